//! A plain per-lead simulation of the model, kept as an oracle for the
//! engines: every lead is drawn on its own with a continuous score, nurtured
//! week by week, and walked through the stages one Bernoulli draw at a time.
//! It shares no sampling code with the engines (it uses rand_distr and the
//! distributions' own samplers) and is written for clarity, not speed.

use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, Gamma, Poisson};
use rand_xoshiro::Xoshiro256PlusPlus;
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
    score: f64,
    /// Known amount of an open deal.
    amount: Option<f64>,
    max: usize,
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
    let mut leads: Vec<Lead> = Vec::new();
    let mut events: Vec<Vec<Event>> = (0..h).map(|_| Vec::new()).collect();
    let sc = &m.scoring;
    let gated = m.channels[0].funnel.transitions[0].advance == Advance::Score;
    // Arrivals, scores, the MQL gate and nurture, one lead at a time.
    for (c, ch) in m.channels.iter().enumerate() {
        for a in 0..h {
            let mut lam = ch.expected_leads(a as u32, &s.calendar);
            if ch.arrival_cv > 0.0 {
                let k = 1.0 / (ch.arrival_cv * ch.arrival_cv);
                lam *= Gamma::new(k, 1.0 / k).unwrap().sample(rng);
            }
            let count = if lam > 0.0 {
                Poisson::new(lam).unwrap().sample(rng) as u64
            } else {
                0
            };
            out.spend += ch.spend(a as u32, count as f64);
            out.first[0] += count as f64;
            for _ in 0..count {
                let mut score = ch.score.sample(rng);
                if !gated {
                    leads.push(Lead {
                        channel: c,
                        score,
                        amount: None,
                        max: 0,
                    });
                    events[a].push(Event::Enter(0, leads.len() - 1));
                    continue;
                }
                let d0 = ch.funnel.transitions[0].delay.sample(rng) as usize;
                let mut week = a + d0;
                if score < sc.threshold {
                    let Some(nu) = &sc.nurture else { continue };
                    let mut crossed = false;
                    for w in 1..=nu.weeks as usize {
                        if rng.random::<f64>() < vals[nu.p_engage] {
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
                    leads.push(Lead {
                        channel: c,
                        score,
                        amount: None,
                        max: 1,
                    });
                    events[week].push(Event::Enter(1, leads.len() - 1));
                }
            }
        }
    }
    // Open deals, due after the remaining delay of their stage.
    for d in &m.pipeline {
        let ch = d.channel.unwrap_or(0);
        let rem = m.channels[ch].funnel.transitions[d.stage]
            .delay
            .remaining_after(d.age_weeks)
            .sample(rng) as usize;
        leads.push(Lead {
            channel: ch,
            score: f64::NAN,
            amount: Some(d.amount),
            max: d.stage,
        });
        if rem < h {
            events[rem].push(Event::Decide(d.stage, leads.len() - 1));
        }
    }
    let judged = m.channels[0]
        .funnel
        .transitions
        .iter()
        .rposition(|t| matches!(t.advance, Advance::Acceptance | Advance::Score));
    // Week by week, stage by stage.
    for t in 0..h {
        for i in 0..n {
            // Entries into stage i this week wait their delay.
            let mut deciding: Vec<usize> = Vec::new();
            let mut k = 0;
            while k < events[t].len() {
                match events[t][k] {
                    Event::Enter(st, id) if st == i => {
                        events[t].swap_remove(k);
                        let d = m.channels[leads[id].channel].funnel.transitions[i]
                            .delay
                            .sample(rng) as usize;
                        if d == 0 {
                            deciding.push(id);
                        } else if t + d < h {
                            events[t + d].push(Event::Decide(i, id));
                        }
                    }
                    Event::Decide(st, id) if st == i => {
                        events[t].swap_remove(k);
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
                        .map(|id| team.sla_touches(leads[*id].score))
                        .sum();
                    if demand > 0.0 {
                        follow_up = (team.touches_at(t as u32) / demand).min(1.0);
                    }
                }
            }
            for id in deciding {
                let lead = leads[id].clone();
                let f = &m.channels[lead.channel].funnel;
                let tr = &f.transitions[i];
                let advance = match tr.advance {
                    Advance::Score => true,
                    Advance::Rate(p) => rng.random::<f64>() < lifted(m, i, vals[p], lead.score),
                    Advance::Acceptance => {
                        // Reached by one of the touches made, then judged.
                        let mut p = sc.acceptance.at(lead.score, &vals);
                        if let Capacity::Team(team) = &m.capacity {
                            let c = vals[team.contact_p];
                            let made = follow_up * team.sla_touches(lead.score);
                            p *= 1.0 - (1.0 - c).powf(made);
                        }
                        rng.random::<f64>() < p
                    }
                    Advance::Win(w) => {
                        if let Some(slip) = &f.slip
                            && rng.random::<f64>() < vals[slip.p]
                        {
                            let d = slip.delay.sample(rng) as usize;
                            if t + d < h {
                                events[t + d].push(Event::Decide(i, id));
                            }
                            continue;
                        }
                        if rng.random::<f64>() < lifted(m, i, vals[w], lead.score) {
                            let amount = lead.amount.unwrap_or_else(|| {
                                f.deal_size.sample(rng) * size_factor(m, lead.score)
                            });
                            out.revenue += amount;
                            out.revenue_weeks[t] += amount;
                            out.wins += 1.0;
                            continue;
                        }
                        false
                    }
                };
                if advance {
                    if lead.max < i + 1 {
                        leads[id].max = i + 1;
                        out.first[i + 1] += 1.0;
                    }
                    events[t].push(Event::Enter(i + 1, id));
                    continue;
                }
                // Recycled, or out.
                let total: f64 = tr.recycle.iter().map(|r| vals[r.p]).sum::<f64>().max(1.0);
                let mut u = rng.random::<f64>() * total;
                for r in &tr.recycle {
                    if u < vals[r.p] {
                        if lead.amount.is_some() && judged.is_some_and(|g| r.to <= g) {
                            break;
                        }
                        let d = r.delay.sample(rng) as usize;
                        if t + d < h {
                            events[t + d].push(Event::Enter(r.to, id));
                        }
                        break;
                    }
                    u -= vals[r.p];
                }
            }
        }
    }
    out
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
