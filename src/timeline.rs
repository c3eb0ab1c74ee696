//! Expected flow over time: what one lead (or one open deal) is expected to
//! do in each week after it starts.
//!
//! [`crate::chain`] answers "how likely, eventually"; this module answers
//! "how much, when". A [`Response`] holds, per week of lag, the expected
//! first entries into each stage, wins, acceptance decisions and the SLA
//! touches they ask for. It is computed by pushing expected mass through the
//! stage chain week by week, spreading it over every delay distribution
//! (stage delays, recycle delays, the sales cycle, slips) — never by
//! averages. The planner convolves these responses with lead volumes and
//! inverts that map; the engine's tests compare simulated means with them.
//!
//! A lead is tracked by (stage, furthest stage reached), so that a stage
//! entered again after recycling is not counted as a new MQL, SAL, ….
//! Recycled leads wait at least a week and slips move a close by at least a
//! week (checked when the model is built), so within one week mass only
//! moves forward through the stages and one pass per week is exact.

use rayon::prelude::*;

use crate::dist::Delay;
use crate::flow::entries;
use crate::model::{Advance, Capacity, Funnel, Model, OpenDeal};

/// Expected events per week, for one unit of what was started.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// `first[j][t]`: first entries into stage j in week t.
    pub first: Vec<Vec<f64>>,
    /// Wins (deals closed won) in week t.
    pub wins: Vec<f64>,
    /// Expected revenue of those wins (wins × the expected deal size of
    /// the leads that make them).
    pub revenue: Vec<f64>,
    /// Acceptance decisions (MQLs worked by sales) in week t.
    pub decisions: Vec<f64>,
    /// SLA touches those decisions ask for.
    pub touches: Vec<f64>,
    /// Acceptance decisions that accepted.
    pub accepted: Vec<f64>,
    /// Recycle events (a lead sent back to an earlier stage).
    pub recycled: Vec<f64>,
    /// Leads leaving before the close (not recycled).
    pub dropped: Vec<f64>,
    /// Deals closed lost.
    pub lost: Vec<f64>,
}

impl Response {
    pub fn zeros(stages: usize, len: usize) -> Response {
        Response {
            first: vec![vec![0.0; len]; stages],
            wins: vec![0.0; len],
            revenue: vec![0.0; len],
            decisions: vec![0.0; len],
            touches: vec![0.0; len],
            accepted: vec![0.0; len],
            recycled: vec![0.0; len],
            dropped: vec![0.0; len],
            lost: vec![0.0; len],
        }
    }

    pub fn len(&self) -> usize {
        self.wins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.wins.is_empty()
    }

    /// self += w · other.
    pub fn add_scaled(&mut self, other: &Response, w: f64) {
        let add = |a: &mut [f64], b: &[f64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += w * y);
        for (a, b) in self.first.iter_mut().zip(&other.first) {
            add(a, b);
        }
        add(&mut self.wins, &other.wins);
        add(&mut self.revenue, &other.revenue);
        add(&mut self.decisions, &other.decisions);
        add(&mut self.touches, &other.touches);
        add(&mut self.accepted, &other.accepted);
        add(&mut self.recycled, &other.recycled);
        add(&mut self.dropped, &other.dropped);
        add(&mut self.lost, &other.lost);
    }
}

/// Where expected mass starts.
#[derive(Clone, Debug)]
pub enum Seed {
    /// Enters `stage` after a delay; `first` counts it as a first entry.
    Arrive {
        stage: usize,
        at: Delay,
        weight: f64,
        first: bool,
    },
    /// Is decided at `stage` after a delay (an open deal part-way through
    /// its stage: the remaining delay).
    Decide {
        stage: usize,
        at: Delay,
        weight: f64,
    },
    /// An open deal part-way through its sales cycle: won with
    /// probability `p_win` after `won_at`, else lost after `lost_at`.
    Close {
        won_at: Delay,
        lost_at: Delay,
        p_win: f64,
        weight: f64,
    },
}

/// The chain of one funnel with its score-dependent values fixed.
pub struct Propagation<'a> {
    pub funnel: &'a Funnel,
    pub params: &'a [f64],
    /// Acceptance probability at the acceptance gate.
    pub p_accept: f64,
    /// SLA touches asked per acceptance decision.
    pub touches: f64,
    /// Recycles to this stage or an earlier one leave the model (used for
    /// open deals, which have no score to be judged on again).
    pub drop_recycles_to: Option<usize>,
    pub len: usize,
    /// Expected revenue of one win.
    pub size: f64,
}

impl Propagation<'_> {
    /// Runs the chain for `len` weeks from the seeds.
    ///
    /// At the close stage a deal's fate is settled when its cycle starts
    /// (won with the win rate, after the won cycle; else lost, after the
    /// lost cycle), so the two fates are kept apart: `dec` holds the deals
    /// that will be won, `lost` those that will not.
    pub fn run(&self, seeds: &[Seed]) -> Response {
        let n = self.funnel.transitions.len();
        let close = n - 1;
        let len = self.len;
        let idx = |i: usize, m: usize| m * n + i;
        let mut arr = vec![vec![0.0; len]; n * n];
        let mut dec = vec![vec![0.0; len]; n * n];
        let mut lost = vec![vec![0.0; len]; n];
        let mut out = Response::zeros(n, len);
        // Only the delays that land inside `v`.
        let put = |v: &mut [f64], at: &Delay, x: f64| {
            let Some(v) = v.get_mut(at.first as usize..) else {
                return;
            };
            v.iter_mut()
                .zip(&at.pmf)
                .for_each(|(slot, p)| *slot += x * p);
        };
        for seed in seeds {
            match seed {
                Seed::Arrive {
                    stage,
                    at,
                    weight,
                    first,
                } => {
                    put(&mut arr[idx(*stage, *stage)], at, *weight);
                    if *first {
                        put(&mut out.first[*stage], at, *weight);
                    }
                }
                Seed::Decide { stage, at, weight } => {
                    put(&mut dec[idx(*stage, *stage)], at, *weight);
                }
                Seed::Close {
                    won_at,
                    lost_at,
                    p_win,
                    weight,
                } => {
                    put(&mut dec[idx(close, close)], won_at, weight * p_win);
                    put(&mut lost[close], lost_at, weight * (1.0 - p_win));
                }
            }
        }
        let slip = self.funnel.slip.as_ref();
        let s = slip.map_or(0.0, |s| self.params[s.p]);
        for t in 0..len {
            for i in 0..n {
                let tr = &self.funnel.transitions[i];
                for m in i..n {
                    let a = arr[idx(i, m)][t];
                    if a != 0.0 {
                        match tr.advance {
                            Advance::Win(w) => {
                                let w = self.params[w];
                                put(&mut dec[idx(i, m)][t..], &tr.delay, a * w);
                                put(&mut lost[m][t..], &self.funnel.lost_cycle, a * (1.0 - w));
                            }
                            _ => put(&mut dec[idx(i, m)][t..], &tr.delay, a),
                        }
                    }
                    let rest = if let Advance::Win(_) = tr.advance {
                        // Both fates may slip; what does not, closes.
                        let (won, gone) = (dec[idx(i, m)][t], lost[m][t]);
                        if won == 0.0 && gone == 0.0 {
                            continue;
                        }
                        if let Some(sl) = slip {
                            put(&mut dec[idx(i, m)][t..], &sl.delay, won * s);
                            put(&mut lost[m][t..], &sl.delay, gone * s);
                        }
                        let (won, gone) = (won * (1.0 - s), gone * (1.0 - s));
                        out.wins[t] += won;
                        out.revenue[t] += won * self.size;
                        out.lost[t] += gone;
                        gone
                    } else {
                        let x = dec[idx(i, m)][t];
                        if x == 0.0 {
                            continue;
                        }
                        let p = match tr.advance {
                            Advance::Score => 1.0,
                            Advance::Acceptance => {
                                out.decisions[t] += x;
                                out.touches[t] += x * self.touches;
                                out.accepted[t] += x * self.p_accept;
                                self.p_accept
                            }
                            Advance::Rate(p) => self.params[p],
                            Advance::Win(_) => unreachable!("handled above"),
                        };
                        let j = i + 1;
                        if m < j {
                            out.first[j][t] += x * p;
                        }
                        arr[idx(j, m.max(j))][t] += x * p;
                        x * (1.0 - p)
                    };
                    if rest <= 0.0 {
                        continue;
                    }
                    let closing = matches!(tr.advance, Advance::Win(_));
                    let total: f64 = tr
                        .recycle
                        .iter()
                        .map(|r| self.params[r.p])
                        .sum::<f64>()
                        .max(1.0);
                    let mut gone = rest;
                    for r in &tr.recycle {
                        if self.drop_recycles_to.is_some_and(|g| r.to <= g) {
                            continue;
                        }
                        let share = rest * self.params[r.p] / total;
                        gone -= share;
                        out.recycled[t] += share;
                        put(&mut arr[idx(r.to, m)][t..], &r.delay, share);
                    }
                    if !closing {
                        out.dropped[t] += gone;
                    }
                }
            }
        }
        out
    }
}

/// SLA touches an MQL of this score is asked for (0 with unlimited
/// capacity, where touches are not counted).
fn sla_touches(model: &Model, score: f64) -> f64 {
    match &model.capacity {
        Capacity::Unlimited => 0.0,
        Capacity::Team(t) => t.sla_touches(score),
    }
}

/// What one lead of channel `c` arriving in week 0 is expected to do, over
/// `len` weeks, with the SLA met.
pub fn channel_response(model: &Model, c: usize, params: &[f64], len: usize) -> Response {
    let channel = &model.channels[c];
    let n = model.stages.len();
    let mut total = Response::zeros(n, len);
    if len == 0 {
        return total;
    }
    let (start, list) = entries(channel, &model.scoring, params);
    let mean_size = channel.funnel.deal_size.mean();
    // The bands run in parallel and are summed in their order, so the sum
    // does not depend on the thread count.
    let one = |e: &crate::flow::Entry| {
        let prop = Propagation {
            funnel: &channel.funnel,
            params: &model.scoring.params_for(&channel.funnel, params, e.score),
            p_accept: model.p_accept(e.score, 1.0, params),
            touches: sla_touches(model, e.score),
            drop_recycles_to: None,
            len,
            size: mean_size * model.scoring.size_factor(e.score),
        };
        let seed = Seed::Arrive {
            stage: start,
            at: e.delay.clone(),
            weight: 1.0,
            first: start > 0,
        };
        prop.run(&[seed])
    };
    let runs: Vec<Response> = list.par_iter().map(one).collect();
    for (r, e) in runs.iter().zip(&list) {
        total.add_scaled(r, e.weight);
    }
    if start > 0 {
        // Every lead enters the first stage on arrival.
        total.first[0][0] = 1.0;
    } else {
        let lead_entries: f64 = list.iter().map(|e| e.weight).sum();
        total.first[0][0] = lead_entries;
    }
    total
}

/// The last gate that judges a lead by its score (sales acceptance, or the
/// MQL threshold): open deals, which have no score, never go back to it.
pub fn judged_gate(funnel: &Funnel) -> Option<usize> {
    funnel
        .transitions
        .iter()
        .rposition(|t| matches!(t.advance, Advance::Acceptance | Advance::Score))
}

/// What an open deal (or a lead in flight) is expected to do from week 0:
/// how it goes on given its age ([`crate::pipeline::start`]), then the
/// chain. A deal has no score: recycles back to sales acceptance or earlier
/// leave the model, and it stands at the quality reference.
pub fn deal_response(model: &Model, deal: &OpenDeal, params: &[f64], len: usize) -> Response {
    use crate::pipeline::{Start, start};
    let funnel = &model.channels[deal.channel.unwrap_or(0)].funnel;
    let n = funnel.transitions.len();
    let (seed, score) = match start(model, deal, params) {
        Start::Gone => return Response::zeros(n, len),
        Start::Decide { stage, due } => (
            Seed::Decide {
                stage,
                at: due,
                weight: 1.0,
            },
            deal.score,
        ),
        Start::Close { p_win, won, lost } => (
            Seed::Close {
                won_at: won,
                lost_at: lost,
                p_win,
                weight: 1.0,
            },
            deal.score,
        ),
        Start::Nurture { p, due, score } => (
            Seed::Arrive {
                stage: 1,
                at: due,
                weight: p,
                first: true,
            },
            Some(score),
        ),
    };
    let lifted = match score {
        Some(x) => model.scoring.params_for(funnel, params, x),
        None => std::borrow::Cow::Borrowed(params),
    };
    let size = if deal.known_amount {
        deal.amount
    } else {
        funnel.deal_size.mean() * score.map_or(1.0, |x| model.scoring.size_factor(x))
    };
    // The win rate of a deal in its cycle is already in its seed.
    Propagation {
        funnel,
        params: &lifted,
        p_accept: score.map_or(0.0, |x| model.p_accept(x, 1.0, params)),
        touches: score.map_or(0.0, |x| sla_touches(model, x)),
        drop_recycles_to: if score.is_none() {
            judged_gate(funnel)
        } else {
            None
        },
        len,
        size,
    }
    .run(&[seed])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::Dist;
    use crate::model::{Recycle, Slip, Transition};

    fn funnel(recycle: Vec<Recycle>, slip: Option<Slip>) -> (Funnel, Vec<f64>) {
        // Params: 0 = sal rate 0.5, 1 = win 0.25, 2 = recycle 0.4, 3 = slip 0.2.
        let t = |advance, weeks| Transition {
            advance,
            delay: Delay::fixed(weeks),
            draws: None,
            recycle: Vec::new(),
        };
        let mut transitions = vec![
            t(Advance::Score, 0),
            t(Advance::Acceptance, 1),
            t(Advance::Rate(0), 2),
            t(Advance::Win(1), 10),
        ];
        transitions[1].recycle = recycle;
        (
            Funnel {
                transitions,
                lost_cycle: Delay::fixed(10),
                lost_draws: None,
                deal_size: Dist::fixed(1.0).unwrap(),
                slip,
                quarter_end: None,
            },
            vec![0.5, 0.25, 0.4, 0.2],
        )
    }

    fn run(f: &Funnel, params: &[f64], len: usize) -> Response {
        Propagation {
            funnel: f,
            params,
            p_accept: 0.5,
            touches: 3.0,
            drop_recycles_to: None,
            len,
            size: 1.0,
        }
        .run(&[Seed::Arrive {
            stage: 0,
            at: Delay::fixed(0),
            weight: 1.0,
            first: true,
        }])
    }

    #[test]
    fn fixed_delays_put_everything_at_one_lag() {
        let (f, p) = funnel(Vec::new(), None);
        let r = run(&f, &p, 30);
        assert_eq!(r.first[1][0], 1.0);
        assert_eq!(r.decisions[1], 1.0);
        assert_eq!(r.touches[1], 3.0);
        assert_eq!(r.first[2][1], 0.5);
        assert_eq!(r.first[3][3], 0.25);
        assert_eq!(r.wins[13], 0.0625);
        assert_eq!(r.wins.iter().sum::<f64>(), 0.0625);
    }

    #[test]
    fn recycled_leads_are_not_counted_twice() {
        let recycle = vec![Recycle {
            to: 1,
            p: 2,
            delay: Delay::fixed(8),
        }];
        let (f, p) = funnel(recycle, None);
        let r = run(&f, &p, 200);
        // MQL first entries: once, at week 0.
        assert_eq!(r.first[1].iter().sum::<f64>(), 1.0);
        // Decisions: at 1, 10, 19, … with mass 0.2^k.
        assert!((r.decisions[10] - 0.2).abs() < 1e-15);
        assert!((r.decisions.iter().sum::<f64>() - 1.0 / 0.8).abs() < 1e-12);
        // SALs: 0.5 at week 1, 0.1 at week 10, … = 0.625 in all.
        assert!((r.first[2][10] - 0.1).abs() < 1e-15);
        assert!((r.first[2].iter().sum::<f64>() - 0.625).abs() < 1e-12);
    }

    #[test]
    fn slips_move_wins_later_without_losing_them() {
        let slip = Slip {
            p: 3,
            delay: Delay::fixed(3),
        };
        let (f, p) = funnel(Vec::new(), Some(slip));
        let r = run(&f, &p, 100);
        assert!((r.wins[13] - 0.0625 * 0.8).abs() < 1e-15);
        assert!((r.wins[16] - 0.0625 * 0.2 * 0.8).abs() < 1e-15);
        assert!((r.wins.iter().sum::<f64>() - 0.0625).abs() < 1e-12);
    }
}
