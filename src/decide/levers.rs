//! Levers: the changes to a scenario that the decision commands search
//! over — total lead volume at the current mix, media budget, one channel's
//! budget, sales reps — and the scalings that sensitivity swings.
//!
//! Budgets are media budgets over the horizon: a channel's weekly
//! `budget_per_week` times the weeks it is active.

use crate::model::{Capacity, Scenario, Volume};

/// What `revplan goal` may move.
#[derive(Clone, Debug, PartialEq)]
pub enum Lever {
    /// Average weekly leads of all channels, at the current mix.
    Leads,
    /// Media budget over the horizon of every budget-driven channel, at the
    /// current split.
    Budget,
    /// One channel's media budget over the horizon.
    ChannelBudget(usize),
    /// Fully ramped reps at week 0.
    Reps,
}

impl Lever {
    /// Parses `leads`, `budget`, `budget:<channel>` or `reps`.
    pub fn parse(text: &str, s: &Scenario) -> Result<Lever, String> {
        let m = &s.model;
        let lever = match text {
            "leads" => Lever::Leads,
            "budget" => Lever::Budget,
            "reps" => Lever::Reps,
            _ => match text.strip_prefix("budget:") {
                Some(name) => match m.channel_index(name) {
                    Some(c) => Lever::ChannelBudget(c),
                    None => {
                        let known: Vec<&str> = m.channels.iter().map(|c| c.name.as_str()).collect();
                        return Err(format!(
                            "no channel named `{name}`; known: {}",
                            known.join(", ")
                        ));
                    }
                },
                None => {
                    return Err(format!(
                        "unknown lever `{text}`: expected leads, budget, budget:<channel> or reps"
                    ));
                }
            },
        };
        match &lever {
            Lever::Budget if budget_channels(s).is_empty() => {
                Err("no channel is budget-driven (volume = { budget_per_week, response })".into())
            }
            Lever::ChannelBudget(c) if !matches!(m.channels[*c].volume, Volume::Budget { .. }) => {
                Err(format!(
                    "channel `{}` has a fixed volume, not a budget",
                    m.channels[*c].name
                ))
            }
            Lever::Reps if matches!(m.capacity, Capacity::Unlimited) => {
                Err("sales capacity is unlimited: there are no reps to add".into())
            }
            _ => Ok(lever),
        }
    }

    pub fn name(&self, s: &Scenario) -> String {
        match self {
            Lever::Leads => "leads per week (all channels, current mix)".into(),
            Lever::Budget => "media budget over the horizon (all budget-driven channels)".into(),
            Lever::ChannelBudget(c) => format!(
                "media budget of `{}` over the horizon",
                s.model.channels[*c].name
            ),
            Lever::Reps => "sales reps at week 0".into(),
        }
    }

    /// Whether the lever moves in whole steps (people).
    pub fn integer(&self) -> bool {
        matches!(self, Lever::Reps)
    }

    /// The lever's value in the scenario as it is.
    pub fn current(&self, s: &Scenario) -> f64 {
        match self {
            Lever::Leads => average_leads(s),
            Lever::Budget => budget_channels(s)
                .iter()
                .map(|c| horizon_budget(s, *c))
                .sum(),
            Lever::ChannelBudget(c) => horizon_budget(s, *c),
            Lever::Reps => match &s.model.capacity {
                Capacity::Team(t) => t.reps,
                Capacity::Unlimited => 0.0,
            },
        }
    }

    /// The largest value the model can take (a response curve's ceiling).
    pub fn ceiling(&self, s: &Scenario) -> f64 {
        match self {
            Lever::Leads => {
                let limit = s
                    .model
                    .channels
                    .iter()
                    .filter_map(|c| match &c.volume {
                        Volume::Budget {
                            per_week, curve, ..
                        } => {
                            let ceiling = curve.leads(f64::MAX / 1e6);
                            Some(ceiling / curve.leads(*per_week).max(1e-12))
                        }
                        Volume::Leads(_) | Volume::Schedule { .. } => None,
                    })
                    .fold(f64::INFINITY, f64::min);
                self.current(s) * limit * 0.999
            }
            _ => f64::INFINITY,
        }
    }

    /// The scenario with the lever at `value`.
    pub fn apply(&self, s: &Scenario, value: f64) -> Result<Scenario, String> {
        let mut out = s.clone();
        let cur = self.current(s);
        let k = if cur > 0.0 { value / cur } else { 0.0 };
        match self {
            Lever::Leads => {
                for c in 0..s.model.channels.len() {
                    scale_volume(&mut out, c, k)?;
                }
            }
            Lever::Budget => {
                for c in budget_channels(s) {
                    scale_budget(&mut out, c, k);
                }
            }
            Lever::ChannelBudget(c) => scale_budget(&mut out, *c, k),
            Lever::Reps => {
                if let Capacity::Team(t) = &mut out.model.capacity {
                    t.reps = value.max(0.0);
                }
            }
        }
        Ok(out)
    }
}

/// Channels whose volume is bought with a budget.
pub fn budget_channels(s: &Scenario) -> Vec<usize> {
    (0..s.model.channels.len())
        .filter(|c| matches!(s.model.channels[*c].volume, Volume::Budget { .. }))
        .collect()
}

/// Weeks of the horizon in which a channel is active.
pub fn active_weeks(s: &Scenario, c: usize) -> f64 {
    (0..s.weeks())
        .filter(|w| s.model.channels[c].is_active(*w))
        .count() as f64
}

/// A channel's media budget over the horizon.
pub fn horizon_budget(s: &Scenario, c: usize) -> f64 {
    match &s.model.channels[c].volume {
        Volume::Budget { per_week, .. } => per_week * active_weeks(s, c),
        Volume::Schedule { media, .. } => media.iter().sum(),
        Volume::Leads(_) => 0.0,
    }
}

/// Sets a budget channel's media budget over the horizon.
pub fn set_horizon_budget(s: &mut Scenario, c: usize, total: f64) {
    let weeks = active_weeks(s, c).max(1.0);
    if let Volume::Budget { per_week, .. } = &mut s.model.channels[c].volume {
        *per_week = (total / weeks).max(0.0);
    }
}

fn scale_budget(s: &mut Scenario, c: usize, k: f64) {
    if let Volume::Budget { per_week, .. } = &mut s.model.channels[c].volume {
        *per_week *= k;
    }
}

/// Average expected leads per week over the horizon, all channels.
pub fn average_leads(s: &Scenario) -> f64 {
    let weeks = s.weeks();
    let total: f64 = s
        .model
        .channels
        .iter()
        .map(|c| {
            (0..weeks)
                .map(|w| c.expected_leads(w, &s.calendar))
                .sum::<f64>()
        })
        .sum();
    total / f64::from(weeks)
}

/// Multiplies a channel's lead volume by `k` (a budget channel buys it).
pub fn scale_volume(s: &mut Scenario, c: usize, k: f64) -> Result<(), String> {
    let ch = &mut s.model.channels[c];
    match &mut ch.volume {
        Volume::Leads(l) => *l *= k,
        // A schedule keeps its media budgets: it scales like a fixed volume.
        Volume::Schedule { leads, .. } => leads.iter_mut().for_each(|l| *l *= k),
        Volume::Budget {
            per_week, curve, ..
        } => {
            let want = curve.leads(*per_week) * k;
            *per_week = curve.budget_for(want).ok_or_else(|| {
                format!(
                    "channel `{}` cannot buy {want:.1} leads a week: its response curve tops out",
                    ch.name
                )
            })?;
        }
    }
    Ok(())
}

/// Multiplies the deal sizes of every channel by `k`.
pub fn scale_deal_size(s: &mut Scenario, k: f64) {
    for ch in &mut s.model.channels {
        ch.funnel.deal_size = ch.funnel.deal_size.scaled(k);
    }
}

/// The business `k` times as large: every channel's leads, media budget
/// and program cost of each week, and the sales team's touches and payroll,
/// times `k` (channels become week-by-week schedules; the open pipeline is
/// kept). For measuring how an engine's cost grows with lead volume.
pub fn scale_business(s: &mut Scenario, k: f64) {
    let weeks = s.weeks();
    for ch in &mut s.model.channels {
        let leads = (0..weeks)
            .map(|w| k * ch.expected_leads(w, &s.calendar))
            .collect();
        let media = (0..weeks)
            .map(|w| k * (ch.spend(w, 0.0) - ch.fixed_cost_per_week).max(0.0))
            .collect();
        ch.volume = Volume::Schedule { leads, media };
        ch.fixed_cost_per_week *= k;
    }
    if let Capacity::Team(t) = &mut s.model.capacity {
        t.touches_per_rep_week *= k;
        t.cost_per_rep_week *= k;
    }
}
