//! A plain per-lead simulation of the model, kept as an oracle for the
//! engines: every lead is drawn on its own with a continuous score, nurtured
//! week by week, and walked through the stages one Bernoulli draw at a time.
//! It shares no sampling code with the engines (it uses rand_distr and the
//! distributions' own samplers) and is written for clarity, not speed.

use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, Gamma, Poisson};
use rand_xoshiro::Xoshiro256PlusPlus;
use revplan::calendar::{Calendar, PeriodKind};
use revplan::dist::Delay;
use revplan::model::{Advance, Capacity, Scenario};

/// One trial's outputs, as the engines count them.
#[derive(Clone, Debug, Default)]
pub struct Trial {
    pub revenue: f64,
    pub revenue_weeks: Vec<f64>,
    /// First entries into each stage inside the horizon.
    pub first: Vec<f64>,
    pub wins: f64,
    pub spend: f64,
}

#[derive(Clone, Debug)]
struct Lead {
    channel: usize,
    /// NaN for an open deal, which has no score.
    score: f64,
    /// Known amount of an open deal.
    amount: Option<f64>,
    max: usize,
    /// At the close stage: won or lost, settled when the cycle starts.
    fate: Option<bool>,
    /// The slip at the next close decision, drawn early for the push.
    slip_drawn: Option<bool>,
}

enum Event {
    Enter(usize, usize),
    Decide(usize, usize),
}

pub fn run(s: &Scenario, trials: u64, seed: u64) -> Vec<Trial> {
    (0..trials)
        .map(|t| {
            trial(
                s,
                &mut Xoshiro256PlusPlus::seed_from_u64(
                    seed ^ (t.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                ),
            )
        })
        .collect()
}

/// P(delay ≥ age), summed from the pmf.
fn tail(d: &Delay, age: u32) -> f64 {
    d.pmf
        .iter()
        .enumerate()
        .filter(|(k, _)| d.first + *k as u32 >= age)
        .map(|(_, p)| p)
        .sum()
}

/// What is left of a delay given that it is at least `age`: a uniform
/// draw over the mass at or past `age` (due now when there is none).
fn at_least<R: Rng>(d: &Delay, age: u32, rng: &mut R) -> usize {
    let mass = tail(d, age);
    if mass <= 0.0 {
        return 0;
    }
    let mut u = rng.random::<f64>() * mass;
    let mut last = 0;
    for (k, p) in d.pmf.iter().enumerate() {
        let w = d.first + k as u32;
        if w < age {
            continue;
        }
        last = (w - age) as usize;
        if u < *p {
            return last;
        }
        u -= p;
    }
    last
}

/// The first week of each quarter after the first, for 40 weeks past the
/// horizon.
fn quarter_starts(s: &Scenario) -> Vec<usize> {
    let cal = &s.calendar;
    let long = Calendar::fiscal(s.weeks() + 40, cal.start, cal.fiscal_start_month).unwrap();
    long.periods(PeriodKind::Quarter)[1..]
        .iter()
        .map(|q| q.weeks.start as usize)
        .collect()
}

/// Week u's pull target under a quarter-end push reaching `weeks` into each
/// quarter: the week before the quarter, for the quarters after the first.
fn pull_target(starts: &[usize], weeks: u32, u: usize) -> Option<usize> {
    starts
        .iter()
        .find(|q| (**q..**q + weeks as usize).contains(&u))
        .map(|q| q - 1)
}

struct Trialling<'a, R> {
    s: &'a Scenario,
    quarter_starts: Vec<usize>,
    vals: Vec<f64>,
    leads: Vec<Lead>,
    events: Vec<Vec<Event>>,
    rng: &'a mut R,
}

impl<R: Rng> Trialling<'_, R> {
    /// A close decision of lead `id` due in week `due`, set in week `now`,
    /// with the quarter-end push: a deal that would close early in a
    /// quarter (its slip drawn now) closes at the quarter end before.
    fn close_at(&mut self, id: usize, due: usize, now: usize) {
        let m = &self.s.model;
        let f = &m.channels[self.leads[id].channel].funnel;
        let close = f.transitions.len() - 1;
        let mut at = due;
        if let Some(q) = &f.quarter_end
            && let Some(target) = pull_target(&self.quarter_starts, q.weeks, due)
            && target >= now
        {
            let s = f.slip.as_ref().map_or(0.0, |s| self.vals[s.p]);
            let slips = self.rng.random::<f64>() < s;
            self.leads[id].slip_drawn = Some(slips);
            if !slips && self.rng.random::<f64>() < self.vals[q.p] {
                at = target;
            }
        }
        if at < self.events.len() {
            self.events[at].push(Event::Decide(close, id));
        }
    }
}

fn trial<R: Rng>(s: &Scenario, rng: &mut R) -> Trial {
    let m = &s.model;
    let h = s.weeks() as usize;
    let n = m.stages.len();
    let vals: Vec<f64> = m.params.iter().map(|p| p.prob.sample(rng)).collect();
    let mut out = Trial {
        revenue_weeks: vec![0.0; h],
        first: vec![0.0; n],
        ..Trial::default()
    };
    let mut t = Trialling {
        s,
        quarter_starts: quarter_starts(s),
        vals,
        leads: Vec::new(),
        events: (0..h).map(|_| Vec::new()).collect(),
        rng,
    };
    let sc = &m.scoring;
    let gated = m.channels[0].funnel.transitions[0].advance == Advance::Score;
    let new_lead = |channel, score, max| Lead {
        channel,
        score,
        amount: None,
        max,
        fate: None,
        slip_drawn: None,
    };
    // Arrivals, scores, the MQL gate and nurture, one lead at a time.
    for (c, ch) in m.channels.iter().enumerate() {
        for a in 0..h {
            let mut lam = ch.expected_leads(a as u32, &s.calendar);
            if ch.arrival_cv > 0.0 {
                let k = 1.0 / (ch.arrival_cv * ch.arrival_cv);
                lam *= Gamma::new(k, 1.0 / k).unwrap().sample(t.rng);
            }
            let count = if lam > 0.0 {
                Poisson::new(lam).unwrap().sample(t.rng) as u64
            } else {
                0
            };
            out.spend += ch.spend(a as u32, count as f64);
            out.first[0] += count as f64;
            for _ in 0..count {
                let mut score = ch.score.sample(t.rng);
                if !gated {
                    t.leads.push(new_lead(c, score, 0));
                    let id = t.leads.len() - 1;
                    t.events[a].push(Event::Enter(0, id));
                    continue;
                }
                let d0 = ch.funnel.transitions[0].delay.sample(t.rng) as usize;
                let mut week = a + d0;
                if score < sc.threshold {
                    let Some(nu) = &sc.nurture else { continue };
                    let mut crossed = false;
                    for w in 1..=nu.weeks as usize {
                        if t.rng.random::<f64>() < t.vals[nu.p_engage] {
                            score += nu.lift;
                            if score >= sc.threshold {
                                week += w;
                                crossed = true;
                                break;
                            }
                        }
                    }
                    if !crossed {
                        continue;
                    }
                    score = score.min(sc.range.1);
                }
                if week < h {
                    out.first[1] += 1.0;
                    t.leads.push(new_lead(c, score, 1));
                    let id = t.leads.len() - 1;
                    t.events[week].push(Event::Enter(1, id));
                }
            }
        }
    }
    seed_open(&mut t, &mut out);
    let judged = m.channels[0]
        .funnel
        .transitions
        .iter()
        .rposition(|t| matches!(t.advance, Advance::Acceptance | Advance::Score));
    // Week by week, stage by stage.
    for w in 0..h {
        for i in 0..n {
            // Entries into stage i this week wait their delay (the close
            // stage: the cycle of the fate drawn now).
            let mut deciding: Vec<usize> = Vec::new();
            let mut k = 0;
            while k < t.events[w].len() {
                match t.events[w][k] {
                    Event::Enter(st, id) if st == i => {
                        t.events[w].swap_remove(k);
                        let lead = &t.leads[id];
                        let f = &m.channels[lead.channel].funnel;
                        if let Advance::Win(p) = f.transitions[i].advance {
                            let won = t.rng.random::<f64>() < lifted(m, i, t.vals[p], lead.score);
                            t.leads[id].fate = Some(won);
                            let d = f.cycle(won).sample(t.rng) as usize;
                            if d == 0 {
                                deciding.push(id);
                            } else {
                                t.close_at(id, w + d, w);
                            }
                            continue;
                        }
                        let d = f.transitions[i].delay.sample(t.rng) as usize;
                        if d == 0 {
                            deciding.push(id);
                        } else if w + d < h {
                            t.events[w + d].push(Event::Decide(i, id));
                        }
                    }
                    Event::Decide(st, id) if st == i => {
                        t.events[w].swap_remove(k);
                        deciding.push(id);
                    }
                    _ => k += 1,
                }
            }
            // Sales capacity this week, shared by the MQLs decided now.
            let mut follow_up = 1.0;
            if let Capacity::Team(team) = &m.capacity {
                let is_gate = m.channels[0].funnel.transitions[i].advance == Advance::Acceptance;
                if is_gate {
                    let demand: f64 = deciding
                        .iter()
                        .filter(|id| !t.leads[**id].score.is_nan())
                        .map(|id| team.sla_touches(t.leads[*id].score))
                        .sum();
                    if demand > 0.0 {
                        follow_up = (team.touches_at(w as u32) / demand).min(1.0);
                    }
                }
            }
            for id in deciding {
                decide(&mut t, &mut out, id, i, w, follow_up, judged);
            }
        }
    }
    out
}

/// Puts what is open at the start in its stage: a deal in its cycle with
/// its fate drawn from its age (or the CRM's probability), a deal or MQL
/// part-way through another stage after the rest of its delay, a lead in
/// nurture week by week.
fn seed_open<R: Rng>(t: &mut Trialling<'_, R>, out: &mut Trial) {
    let (s, m) = (t.s, &t.s.model);
    let h = s.weeks() as usize;
    for d in &m.pipeline {
        let ch = d.channel.unwrap_or(0);
        let f = &m.channels[ch].funnel;
        let score = d.score.unwrap_or(f64::NAN);
        t.leads.push(Lead {
            channel: ch,
            score,
            amount: d.known_amount.then_some(d.amount),
            max: d.stage,
            fate: None,
            slip_drawn: None,
        });
        let id = t.leads.len() - 1;
        match f.transitions[d.stage].advance {
            Advance::Win(p) => {
                let w = lifted(m, d.stage, t.vals[p], score);
                let (sw, sl) = (
                    tail(f.cycle(true), d.age_weeks),
                    tail(f.cycle(false), d.age_weeks),
                );
                let p_win = d.probability.unwrap_or(if w * sw + (1.0 - w) * sl > 0.0 {
                    w * sw / (w * sw + (1.0 - w) * sl)
                } else {
                    0.0
                });
                let won = t.rng.random::<f64>() < p_win;
                t.leads[id].fate = Some(won);
                let due = match d.close_in_weeks {
                    Some(c) => c as usize,
                    None => at_least(f.cycle(won), d.age_weeks, t.rng),
                };
                t.close_at(id, due, 0);
            }
            Advance::Score => {
                let sc = &m.scoring;
                let first = &f.transitions[0].delay;
                let mut x = score;
                let crossed = if x >= sc.threshold {
                    Some(at_least(first, d.age_weeks, t.rng))
                } else {
                    sc.nurture.as_ref().and_then(|n| {
                        let left = n.weeks.saturating_sub(d.age_weeks);
                        (1..=left).find_map(|w| {
                            if t.rng.random::<f64>() < t.vals[n.p_engage] {
                                x += n.lift;
                                if x >= sc.threshold {
                                    return Some(w as usize + first.sample(t.rng) as usize);
                                }
                            }
                            None
                        })
                    })
                };
                if let Some(week) = crossed.filter(|w| *w < h) {
                    t.leads[id].score = x.min(sc.range.1);
                    t.leads[id].max = 1;
                    out.first[1] += 1.0;
                    t.events[week].push(Event::Enter(1, id));
                }
            }
            _ => {
                let due = at_least(&f.transitions[d.stage].delay, d.age_weeks, t.rng);
                if due < h {
                    t.events[due].push(Event::Decide(d.stage, id));
                }
            }
        }
    }
}

/// A lead is decided at stage `i` in week `w`.
fn decide<R: Rng>(
    t: &mut Trialling<'_, R>,
    out: &mut Trial,
    id: usize,
    i: usize,
    w: usize,
    follow_up: f64,
    judged: Option<usize>,
) {
    let m = &t.s.model;
    let h = t.s.weeks() as usize;
    let lead = t.leads[id].clone();
    let f = &m.channels[lead.channel].funnel;
    let tr = &f.transitions[i];
    let advance = match tr.advance {
        Advance::Score => true,
        Advance::Rate(p) => t.rng.random::<f64>() < lifted(m, i, t.vals[p], lead.score),
        Advance::Acceptance => {
            // Reached by one of the touches made, then judged.
            let mut p = m.scoring.acceptance.at(lead.score, &t.vals);
            if let Capacity::Team(team) = &m.capacity {
                let c = t.vals[team.contact_p];
                let made = follow_up * team.sla_touches(lead.score);
                p *= 1.0 - (1.0 - c).powf(made);
            }
            t.rng.random::<f64>() < p
        }
        Advance::Win(p) => {
            let slips = match t.leads[id].slip_drawn.take() {
                Some(x) => x,
                None => f
                    .slip
                    .as_ref()
                    .is_some_and(|s| t.rng.random::<f64>() < t.vals[s.p]),
            };
            if let (true, Some(slip)) = (slips, &f.slip) {
                let d = slip.delay.sample(t.rng) as usize;
                t.close_at(id, w + d, w);
                return;
            }
            let won = match lead.fate {
                Some(x) => x,
                None => t.rng.random::<f64>() < lifted(m, i, t.vals[p], lead.score),
            };
            if won {
                let amount = lead
                    .amount
                    .unwrap_or_else(|| f.deal_size.sample(t.rng) * size_factor(m, lead.score));
                out.revenue += amount;
                out.revenue_weeks[w] += amount;
                out.wins += 1.0;
                return;
            }
            false
        }
    };
    if advance {
        if lead.max < i + 1 {
            t.leads[id].max = i + 1;
            out.first[i + 1] += 1.0;
        }
        t.events[w].push(Event::Enter(i + 1, id));
        return;
    }
    // Recycled, or out.
    let total: f64 = tr.recycle.iter().map(|r| t.vals[r.p]).sum::<f64>().max(1.0);
    let mut u = t.rng.random::<f64>() * total;
    for r in &tr.recycle {
        if u < t.vals[r.p] {
            if lead.score.is_nan() && judged.is_some_and(|g| r.to <= g) {
                break;
            }
            let d = r.delay.sample(t.rng) as usize;
            if w + d < h {
                t.events[w + d].push(Event::Enter(r.to, id));
            }
            break;
        }
        u -= t.vals[r.p];
    }
}

/// Tens of score points above the quality reference (0 without a score or
/// a quality lift).
fn tens(m: &revplan::model::Model, score: f64) -> Option<(&revplan::model::Quality, f64)> {
    let q = m.scoring.quality.as_ref()?;
    (!score.is_nan()).then(|| (q, (score - q.reference) / 10.0))
}

/// Stage `i`'s rate for a lead of this score: its log-odds shifted.
fn lifted(m: &revplan::model::Model, i: usize, p: f64, score: f64) -> f64 {
    match tens(m, score) {
        Some((q, t)) if p > 0.0 && p < 1.0 => {
            let log_odds = (p / (1.0 - p)).ln() + q.per_10[i] * t;
            1.0 / (1.0 + (-log_odds).exp())
        }
        _ => p,
    }
}

fn size_factor(m: &revplan::model::Model, score: f64) -> f64 {
    tens(m, score).map_or(1.0, |(q, t)| (q.size_per_10 * t).exp())
}

/// Mean and standard error of a statistic over trials.
pub fn mean_se(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    let v: Vec<f64> = xs.collect();
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}
