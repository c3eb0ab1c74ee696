//! The decision commands: common random numbers make identical variants
//! differ by exactly zero; sweeps move the way the model says; goal seek
//! lands where a fresh simulation agrees; the optimiser finds the closed-form
//! best split of two exponential channels and beats every point of a grid
//! run on the same random numbers.

use revplan::decide::compare::{Candidate, compare};
use revplan::decide::goal::goal;
use revplan::decide::levers::{Lever, budget_channels, set_horizon_budget};
use revplan::decide::optimize::{bounds, optimize};
use revplan::decide::sensitivity::{InputRow, Swings, sensitivity};
use revplan::decide::sweep::sweep;
use revplan::decide::{Figures, Objective, Settings, paired, paired_hits, paired_runs};
use revplan::model::{ResponseCurve, Scenario, Volume};
use revplan::run::Trials;
use revplan::sim::{EngineKind, RunConfig, run, simulate};

use crate::support::{fixed, root};

fn load(file: &str, sets: &[&str]) -> Scenario {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    revplan::load::load_scenario(&root().join(file), &sets)
        .unwrap_or_else(|e| panic!("{}", e.render(false, 100)))
        .base
}

fn settings(trials: u64, seed: u64, engine: EngineKind) -> Settings {
    Settings {
        trials: Trials::Fixed(trials),
        seed,
        max_trials: trials,
        engine,
        allow_large: false,
    }
}

const SMALL: &str = "tests/data/small-scenario.toml";
const TWO: &str = "tests/data/two-channels-scenario.toml";

#[test]
fn an_identical_variant_differs_by_exactly_zero_and_pairing_narrows_the_interval() {
    for engine in [EngineKind::Auto, EngineKind::Cohorts] {
        pairing(engine);
    }
}

fn pairing(engine: EngineKind) {
    let base = load(SMALL, &[]);
    let candidates = vec![
        Candidate {
            name: "same".into(),
            description: None,
            scenario: base.clone(),
        },
        Candidate {
            name: "higher-bar".into(),
            description: None,
            scenario: load(SMALL, &["scoring.threshold=70"]),
        },
    ];
    let st = settings(1024, 5, engine);
    let c = compare(&base, &candidates, &st, &|_| {}).unwrap();
    assert_eq!(c.variants.len(), 3);
    for row in &c.variants[..2] {
        let d = &row.delta_vs_base;
        assert_eq!(
            (d.mean, d.std_error, d.ci_low, d.ci_high, d.p_better),
            (0.0, 0.0, 0.0, 0.0, 0.0),
            "{}",
            row.name
        );
        assert_eq!(row.p_hit_delta.mean, 0.0);
    }
    assert_eq!(c.variants[0].figures, c.variants[1].figures);
    let d = &c.variants[2].delta_vs_base;
    assert!(d.std_error > 0.0);
    // Δ P(hit) is the difference of the P(hit) shown, both controlled for
    // the drawn rates.
    let (pb, pv) = (
        c.variants[0].figures.p_hit_target,
        c.variants[2].figures.p_hit_target,
    );
    let h = &c.variants[2].p_hit_delta;
    assert!(
        (h.mean - (pv - pb)).abs() < 1e-12,
        "{} vs {pv} − {pb}",
        h.mean
    );
    assert!(
        h.std_error > 0.0 && h.ci_low < h.mean && h.mean < h.ci_high,
        "{h:?}"
    );
    // The cohort engine's groups of a moved threshold are banded anew, so
    // fewer of their draws are shared than the lead engine's leads' are:
    // pairing removes less of the noise (measured: 0.81 of the unpaired
    // standard error, against 0.60 for the lead engine).
    let most = if engine == EngineKind::Cohorts {
        0.9
    } else {
        0.8
    };
    assert!(
        d.std_error < most * d.unpaired_std_error,
        "pairing should remove shared noise: {} vs {}",
        d.std_error,
        d.unpaired_std_error
    );
    // The paired mean is the difference of the two means.
    let means = c.variants[2].figures.revenue.mean - c.variants[0].figures.revenue.mean;
    assert!((d.mean - means).abs() <= 1e-6 * means.abs().max(1.0));
    assert!(d.ci_low < d.mean && d.mean < d.ci_high);
}

#[test]
fn every_member_of_a_family_is_what_simulate_gives_alone() {
    // Common random numbers are a matter of seeds, not of running together:
    // the variant's figures are those of its own `simulate` with the seed.
    let base = load(SMALL, &[]);
    let other = load(SMALL, &["scoring.threshold=55"]);
    let candidates = vec![Candidate {
        name: "lower-bar".into(),
        description: None,
        scenario: other.clone(),
    }];
    let c = compare(
        &base,
        &candidates,
        &settings(512, 9, EngineKind::Auto),
        &|_| {},
    )
    .unwrap();
    let alone = simulate(&other, &fixed(512, 9, EngineKind::Auto), &|_| {}).unwrap();
    assert_eq!(c.variants[1].figures.revenue, alone.revenue);
    assert_eq!(c.variants[1].figures.stages, alone.stages);
}

#[test]
fn auto_trials_stop_when_the_paired_differences_are_precise() {
    use revplan::decide::{FAMILY_MIN_TRIALS, FAMILY_RELATIVE_SE, FAMILY_ROUND, paired_hits};
    let base = load(SMALL, &[]);
    let other = load(SMALL, &["scoring.threshold=58"]);
    let candidates = vec![Candidate {
        name: "lower-bar".into(),
        description: None,
        scenario: other.clone(),
    }];
    let st = Settings {
        trials: Trials::Auto,
        seed: 2,
        max_trials: 65_536,
        engine: EngineKind::Leads,
        allow_large: false,
    };
    let c = compare(&base, &candidates, &st, &|_| {}).unwrap();
    let n = c.trials;
    assert!(
        (FAMILY_MIN_TRIALS..65_536).contains(&n) && n.is_multiple_of(FAMILY_ROUND),
        "{n}"
    );
    // At the stop the differences are precise; one round earlier they
    // were not (or the floor had not been reached).
    let d = &c.variants[1];
    let precise = |se: f64, bar: f64, mean: f64| se < bar.max(FAMILY_RELATIVE_SE * mean.abs());
    let revenue_bar = revplan::sim::AUTO_SE_MEAN * c.variants[0].figures.revenue.mean;
    assert!(precise(
        d.delta_vs_base.std_error,
        revenue_bar,
        d.delta_vs_base.mean
    ));
    // Each member is what its own run of n trials gives, for any thread
    // count: running together changes nothing but when they stop.
    let fixed = fixed(n, 2, EngineKind::Leads);
    let (rb, ro) = (
        run(&base, &fixed, &|_| {}).unwrap(),
        run(&other, &fixed, &|_| {}).unwrap(),
    );
    assert_eq!(c.variants[1].figures.revenue, ro.forecast.revenue);
    assert_eq!(c.variants[0].figures.p_hit_target, rb.forecast.p_hit_target);
    let hits = paired_hits(&rb, &ro, base.target.total);
    assert!(precise(
        hits.std_error,
        revplan::sim::AUTO_SE_P_HIT,
        hits.mean
    ));
    let one =
        crate::support::with_threads(1, || compare(&base, &candidates, &st, &|_| {}).unwrap());
    assert_eq!(one, c);
    // An identical copy is precise at once: the floor.
    let again = compare(
        &base,
        &[Candidate {
            name: "same".into(),
            description: None,
            scenario: base.clone(),
        }],
        &st,
        &|_| {},
    )
    .unwrap();
    assert_eq!(again.trials, FAMILY_MIN_TRIALS);
    assert_eq!(again.variants[1].delta_vs_base.mean, 0.0);
    assert_eq!(again.variants[1].figures, again.variants[0].figures);
}

#[test]
fn mqls_fall_as_the_threshold_rises() {
    let points: Vec<(String, Scenario)> = [40, 50, 60, 70, 80]
        .iter()
        .map(|v| {
            let set = format!("scoring.threshold={v}");
            (v.to_string(), load(SMALL, &[set.as_str()]))
        })
        .collect();
    let sw = sweep(
        "scoring.threshold",
        &points,
        revplan::decide::Objective::PHit,
        &settings(512, 3, EngineKind::Auto),
        &|_| {},
    )
    .unwrap();
    let mqls: Vec<f64> = sw.points.iter().map(|p| p.figures.stages.mqls).collect();
    assert!(
        mqls.windows(2).all(|w| w[1] < w[0]),
        "MQLs should fall as the bar rises: {mqls:?}"
    );
    // Leads do not depend on the bar: the same random numbers give the
    // same leads at every point.
    let leads: Vec<f64> = sw.points.iter().map(|p| p.figures.stages.leads).collect();
    assert!(leads.iter().all(|l| *l == leads[0]), "{leads:?}");
    // The best is the first of the points not worse than the top beyond
    // two paired standard errors, and the top is among them.
    let top = (0..sw.points.len())
        .max_by(|a, b| {
            let (x, y) = (&sw.points[*a].figures, &sw.points[*b].figures);
            x.p_hit_target.total_cmp(&y.p_hit_target)
        })
        .unwrap();
    assert!(sw.tied.contains(&top), "{:?} {top}", sw.tied);
    assert_eq!(sw.best, sw.tied[0]);
}

#[test]
fn goal_seek_lands_where_a_fresh_simulation_agrees() {
    let s = load(SMALL, &[]);
    let confidence = 0.7;
    let trials = 2048;
    let g = goal(
        &s,
        &Lever::Leads,
        confidence,
        &settings(trials, 21, EngineKind::Auto),
        &|_| {},
    )
    .unwrap();
    assert!(g.reached, "{}", g.message);
    let value = g.value.unwrap();
    assert!(value > g.current, "{} should need more leads", g.current);
    let p = g.p_hit.unwrap();
    assert!(p >= confidence);
    // The search's answer on its own random numbers...
    let at = Lever::Leads.apply(&s, value).unwrap();
    let opts = |seed: u64| fixed(trials, seed, EngineKind::Auto);
    let same = simulate(&at, &opts(21), &|_| {}).unwrap();
    assert_eq!(same.p_hit_target, p);
    // ...and on fresh ones: within 4 combined standard errors of the
    // confidence asked for (the search stops within 0.2% of the lever, far
    // inside that).
    let fresh = simulate(&at, &opts(777), &|_| {}).unwrap();
    let se_search = (confidence * (1.0 - confidence) / trials as f64).sqrt();
    let se = (se_search.powi(2) + fresh.p_hit_std_error.powi(2)).sqrt();
    assert!(
        (fresh.p_hit_target - confidence).abs() < 4.0 * se,
        "fresh P(hit) {} vs {confidence} (se {se})",
        fresh.p_hit_target
    );
    // The evaluations bracket the answer: just below it misses.
    let below = g
        .evaluations
        .iter()
        .filter(|e| e.value < value)
        .map(|e| e.p_hit)
        .collect::<Vec<_>>();
    assert!(below.iter().all(|p| *p < confidence), "{below:?}");
    // The search aims where P(hit) crosses the confidence, not at the
    // bracket's middle: 6 evaluations here (bisection took 7).
    assert!(g.evaluations.len() <= 6, "{:?}", g.evaluations);
    // Evaluations far from the confidence stopped early, each clearly on
    // its side; the others ran every trial.
    let early: Vec<_> = g.evaluations.iter().filter(|e| e.trials < trials).collect();
    assert!(!early.is_empty(), "{:?}", g.evaluations);
    // (Its side is judged with the smoothed share's error, shrunk as the
    // controls shrink P(hit)'s: within a few percent of the error shown.)
    for e in &g.evaluations {
        assert!(
            e.trials == trials || (e.p_hit - confidence).abs() > 3.0 * e.std_error * 0.95,
            "{e:?}"
        );
        assert!(e.trials >= revplan::decide::seek::STAGE_TRIALS.min(trials));
    }
}

#[test]
fn goal_seek_reports_an_unreachable_confidence() {
    let s = load(SMALL, &["target.total=1e12"]);
    let g = goal(
        &s,
        &Lever::Leads,
        0.9,
        &settings(256, 1, EngineKind::Auto),
        &|_| {},
    )
    .unwrap();
    assert!(!g.reached);
    assert!(g.value.is_none());
    assert!(g.message.contains("no value up to"), "{}", g.message);
}

#[test]
fn levers_are_validated() {
    let s = load(SMALL, &[]);
    assert!(
        Lever::parse("budget:events", &s).is_err(),
        "events has a fixed volume"
    );
    assert!(Lever::parse("budget:search", &s).is_ok());
    assert!(
        Lever::parse("budget:nope", &s)
            .unwrap_err()
            .contains("known: search, events")
    );
    assert!(Lever::parse("wishes", &s).is_err());
    let two = load(TWO, &[]);
    assert!(
        Lever::parse("reps", &two)
            .unwrap_err()
            .contains("unlimited")
    );
}

#[test]
fn scaling_deal_sizes_scales_revenue_exactly() {
    // Two-channel scenario: no open pipeline, so every dollar comes from a
    // deal size drawn from the scaled distribution on the same random
    // numbers: revenue scales by exactly 1 ± swing, trial by trial.
    let s = load(TWO, &[]);
    let r = sensitivity(
        &s,
        Swings {
            relative: 0.1,
            threshold_points: 5.0,
        },
        &settings(1024, 4, EngineKind::Fast),
        &|_, _| {},
    )
    .unwrap();
    let base = simulate(&s, &fixed(1024, 4, EngineKind::Fast), &|_| {}).unwrap();
    let row = r.inputs.iter().find(|i| i.kind == "deal size").unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
    assert!(close(row.high.mean, 1.1 * base.revenue.mean), "{row:?}");
    assert!(close(row.low.mean, 0.9 * base.revenue.mean), "{row:?}");
    assert!(close(row.high.p50, 1.1 * r.base_p50), "{row:?}");
    // A fixed win rate 10% higher: 10% more wins in expectation.
    let rate = r
        .inputs
        .iter()
        .find(|i| i.input.contains("win_rate"))
        .unwrap();
    let ratio = rate.high.mean / base.revenue.mean;
    let se = 2.0 * base.revenue.std_error / base.revenue.mean;
    assert!((ratio - 1.1).abs() < 4.0 * se, "{ratio} (se {se})");
    // Sorted by swing of P50, largest first.
    assert!(
        r.inputs
            .windows(2)
            .all(|w| w[0].swing_p50 >= w[1].swing_p50)
    );
}

#[test]
fn sensitivity_under_auto_stops_once_the_tornado_is_drawn_true() {
    use revplan::decide::sensitivity::{AUTO_CAP, AUTO_FIRST, AUTO_ROUND, CHART_SHARE};
    let s = load(SMALL, &[]);
    let sw = Swings::default();
    let auto = Settings {
        trials: Trials::Auto,
        max_trials: 1_000_000,
        ..settings(0, 9, EngineKind::Leads)
    };
    let a = sensitivity(&s, sw, &auto, &|_, _| {}).unwrap();
    assert!(
        a.trials.is_multiple_of(AUTO_ROUND) && a.trials >= AUTO_FIRST && a.trials < AUTO_CAP,
        "{}",
        a.trials
    );
    // Each input stops on its own swings (here from 256 to 3,840 trials):
    // its runs are those of a fixed run of its trials (checked for the two
    // fewest), and the base runs as long as the longest.
    assert_eq!(a.inputs.iter().map(|r| r.trials).max(), Some(a.trials));
    let mut counts: Vec<u64> = a.inputs.iter().map(|r| r.trials).collect();
    counts.sort_unstable();
    counts.dedup();
    assert!(counts.len() > 1, "{counts:?}");
    for n in counts.into_iter().take(2) {
        assert!(n.is_multiple_of(AUTO_ROUND) && n >= AUTO_FIRST, "{n}");
        let fixed = sensitivity(&s, sw, &settings(n, 9, EngineKind::Leads), &|_, _| {}).unwrap();
        for r in a.inputs.iter().filter(|r| r.trials == n) {
            let f = fixed.inputs.iter().find(|x| x.input == r.input).unwrap();
            assert_eq!((&r.low, &r.high), (&f.low, &f.high), "{}", r.input);
        }
    }
    // Against 8,192 trials of the same random numbers: each swing of the
    // mean and of P(hit) within 4 of the standard errors the rule allows.
    let long = sensitivity(&s, sw, &settings(8192, 9, EngineKind::Leads), &|_, _| {}).unwrap();
    let swing = |r: &InputRow| [r.high.mean - r.low.mean, r.high.p_hit - r.low.p_hit];
    for k in 0..2 {
        let widest = long
            .inputs
            .iter()
            .map(|r| swing(r)[k].abs())
            .fold(0.0, f64::max);
        for r in &long.inputs {
            let q = a.inputs.iter().find(|x| x.input == r.input).unwrap();
            let bar = (CHART_SHARE * widest).max(0.1 * swing(r)[k].abs());
            assert!(
                (swing(q)[k] - swing(r)[k]).abs() <= 4.0 * bar,
                "{} ({k}): {} after {} trials vs {} after 8,192",
                r.input,
                swing(q)[k],
                a.trials,
                swing(r)[k]
            );
        }
    }
}

/// The closed form of the two-channel case: with identical funnels and
/// unlimited capacity, mean revenue is proportional to total leads, so the
/// best weekly split equalises the curves' slopes:
/// (M1/s1) e^(−b1/s1) = (M2/s2) e^(−(B−b1)/s2).
fn closed_form(s: &Scenario, weekly: f64) -> (f64, f64) {
    let curve = |c: usize| match &s.model.channels[c].volume {
        Volume::Budget {
            curve: ResponseCurve::Exponential { max_leads, scale },
            ..
        } => (*max_leads, *scale),
        _ => unreachable!("exponential curves only"),
    };
    let ((m1, s1), (m2, s2)) = (curve(0), curve(1));
    let b1 = ((m1 * s2 / (m2 * s1)).ln() + weekly / s2) / (1.0 / s1 + 1.0 / s2);
    // Second derivative of weekly leads at the optimum.
    let curvature =
        m1 / (s1 * s1) * (-b1 / s1).exp() + m2 / (s2 * s2) * (-(weekly - b1) / s2).exp();
    (b1, curvature)
}

#[test]
fn the_optimiser_finds_the_closed_form_split() {
    let s = load(TWO, &[]);
    assert_eq!(budget_channels(&s), vec![0, 1]);
    let weeks = f64::from(s.weeks());
    let weekly = 40_000.0;
    let (b1, curvature) = closed_form(&s, weekly);
    assert!(
        b1 > 0.1 * weekly && b1 < 0.9 * weekly,
        "interior optimum: {b1}"
    );
    let st = settings(4096, 3, EngineKind::Fast);
    let bounds = bounds(&s, &[]).unwrap();
    let o = optimize(&s, weekly * weeks, Objective::Mean, &bounds, &st, &|_| {}).unwrap();
    assert!(o.converged);
    let found = o.best[0].budget_per_week;
    // How far off the optimiser may be: where the revenue lost to an offset
    // δ, ½·V·W·|L''|·δ², is within 4 paired standard errors of revenue it
    // cannot resolve, plus its final step.
    let per_lead = o.best_figures.revenue.mean / o.best_figures.stages.leads;
    let se = o.revenue_delta.std_error;
    let delta = (8.0 * se / (per_lead * weeks * curvature)).sqrt() + o.step / weeks;
    assert!(
        (found - b1).abs() < delta,
        "optimiser {found:.0}/week vs closed form {b1:.0} (tolerance {delta:.0})"
    );
    assert!(
        delta < 0.05 * weekly,
        "the test must be able to fail: {delta}"
    );
    assert!(o.objective_best >= o.objective_current);
    assert!(o.revenue_delta.ci_low > 0.0, "{:?}", o.revenue_delta);
    let total: f64 = o.best.iter().map(|a| a.budget).sum();
    assert!((total - weekly * weeks).abs() < 1e-6 * total);

    // On the same random numbers no split of a 5% grid does better.
    let opts = fixed(4096, 3, EngineKind::Fast);
    let mut best_grid = f64::NEG_INFINITY;
    for k in 1..20 {
        let mut t = s.clone();
        let share = f64::from(k) * 0.05;
        set_horizon_budget(&mut t, 0, share * weekly * weeks);
        set_horizon_budget(&mut t, 1, (1.0 - share) * weekly * weeks);
        let r = run(&t, &opts, &|_| {}).unwrap();
        best_grid = best_grid.max(r.forecast.revenue.mean);
    }
    assert!(
        o.objective_best >= best_grid,
        "{} < grid {best_grid}",
        o.objective_best
    );
}

/// On fresh runs at the split `x` (budgets over the horizon): the gap
/// between the best and the worst channel's marginal value for one `step`
/// more, and the paired standard error of that gap, both controlled as the
/// optimiser's are.
fn marginal_gap(s: &Scenario, x: &[f64], step: f64, opts: &RunConfig) -> (f64, f64) {
    let at = |k: Option<usize>| {
        let mut t = s.clone();
        for (c, v) in x.iter().enumerate() {
            let more = if Some(c) == k { step } else { 0.0 };
            set_horizon_budget(&mut t, c, v + more);
        }
        run(&t, opts, &|_| {}).unwrap()
    };
    let runs: Vec<_> = (0..x.len()).map(|c| at(Some(c))).collect();
    let value = |c: usize| Objective::Mean.of(&runs[c]);
    let (hi, lo) = if value(0) >= value(1) { (0, 1) } else { (1, 0) };
    let d = paired_runs(
        &runs[lo],
        &runs[hi],
        &runs[lo].per_trial,
        &runs[hi].per_trial,
    );
    (d.mean, d.std_error)
}

/// The search stops when two steps in a row (the last one reported, and
/// twice it) find no move beyond chance: fresh runs at the best split
/// agree, and at the starting split the first step's move was beyond it
/// (so the check can fail).
#[test]
fn the_optimiser_stops_when_no_move_is_beyond_chance() {
    use revplan::decide::optimize::{QUIET_ROUNDS, RESOLVE_SE, Stop};
    assert_eq!(QUIET_ROUNDS, 2);
    let s = load(TWO, &[]);
    let budget = 40_000.0 * f64::from(s.weeks());
    let st = settings(512, 5, EngineKind::Leads);
    let b = bounds(&s, &[]).unwrap();
    let o = optimize(&s, budget, Objective::Mean, &b, &st, &|_| {}).unwrap();
    assert_eq!(o.stop, Stop::NoMoveBeyondChance, "{o:?}");
    let opts = fixed(512, 5, EngineKind::Leads);
    let best: Vec<f64> = o.best.iter().map(|a| a.budget).collect();
    for step in [o.step, 2.0 * o.step] {
        let (gap, se) = marginal_gap(&s, &best, step, &opts);
        assert!(
            gap <= RESOLVE_SE * se,
            "step {step}: gap {gap} > {RESOLVE_SE} × {se}"
        );
    }
    let current: Vec<f64> = o.current.iter().map(|a| a.budget).collect();
    let (gap, se) = marginal_gap(&s, &current, 0.1 * budget, &opts);
    assert!(
        gap > RESOLVE_SE * se,
        "the first step resolves: {gap} vs {se}"
    );
}

/// A round whose move is beyond chance on the first half of the trials
/// tries it without running the rest; every evaluation runs at least
/// that half and at most all of its trials.
#[test]
fn a_clear_move_is_tried_after_half_the_trials() {
    use revplan::decide::optimize::RESOLVE_SE;
    let s = load(TWO, &[]);
    let budget = 40_000.0 * f64::from(s.weeks());
    let b = bounds(&s, &[]).unwrap();
    let o = optimize(
        &s,
        budget,
        Objective::Mean,
        &b,
        &settings(512, 5, EngineKind::Leads),
        &|_| {},
    )
    .unwrap();
    let half = fixed(256, 5, EngineKind::Leads);
    let current: Vec<f64> = o.current.iter().map(|a| a.budget).collect();
    let (gap, se) = marginal_gap(&s, &current, 0.1 * budget, &half);
    assert!(gap > RESOLVE_SE * se, "clear on half: {gap} vs {se}");
    let evals = o.evaluations as u64;
    assert!(
        o.trials_run < evals * 512 && o.trials_run >= evals * 256,
        "{} trials over {evals} evaluations",
        o.trials_run
    );
}

#[test]
fn the_optimiser_respects_bounds_and_refuses_impossible_budgets() {
    let s = load(TWO, &[]);
    let weeks = f64::from(s.weeks());
    let total = 40_000.0 * weeks;
    let cap = 10_000.0 * weeks;
    let b = bounds(&s, &[("search".into(), None, Some(cap))]).unwrap();
    let o = optimize(
        &s,
        total,
        Objective::Mean,
        &b,
        &settings(512, 1, EngineKind::Fast),
        &|_| {},
    )
    .unwrap();
    assert!(o.best[0].budget <= cap + 1e-6, "{:?}", o.best);
    // The unconstrained optimum puts more there, so the bound binds.
    assert!(o.best[0].budget > 0.98 * cap, "{:?}", o.best);
    let b = bounds(
        &s,
        &[
            ("search".into(), None, Some(1.0)),
            ("social".into(), None, Some(1.0)),
        ],
    )
    .unwrap();
    let err = optimize(
        &s,
        total,
        Objective::Mean,
        &b,
        &settings(64, 1, EngineKind::Fast),
        &|_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("outside"), "{err}");
    assert!(bounds(&s, &[("nope".into(), None, Some(1.0))]).is_err());
}

#[test]
fn paired_deltas_match_their_definition() {
    let base = [3.0, 1.0, 4.0, 1.0, 5.0];
    let other = [4.0, 1.0, 6.0, 0.0, 5.0];
    let d = paired(&base, &other);
    // Differences 1, 0, 2, −1, 0: mean 0.4, sample variance 1.3.
    assert!((d.mean - 0.4).abs() < 1e-12);
    assert!((d.std_error - (1.3f64 / 5.0).sqrt()).abs() < 1e-12);
    assert!((d.p_better - 0.4).abs() < 1e-12);
}

#[test]
fn the_optimiser_raises_p_hit_when_asked() {
    // With identical funnels the revenue distribution depends only on the
    // total lead rate, so P(hit) peaks where the mean does: the search for
    // it must at least not lose ground and must move toward the closed form.
    let s = load(TWO, &[]);
    let weeks = f64::from(s.weeks());
    let weekly = 40_000.0;
    let (b1, _) = closed_form(&s, weekly);
    let bounds = bounds(&s, &[]).unwrap();
    let o = optimize(
        &s,
        weekly * weeks,
        Objective::PHit,
        &bounds,
        &settings(2048, 8, EngineKind::Fast),
        &|_| {},
    )
    .unwrap();
    assert!(
        o.objective_current > 0.05 && o.objective_current < 0.95,
        "{}",
        o.objective_current
    );
    assert!(o.objective_best >= o.objective_current);
    assert_eq!(o.objective_best, o.best_figures.p_hit_target);
    let start = o.current[0].budget_per_week;
    let found = o.best[0].budget_per_week;
    assert!(
        (found - b1).abs() < (start - b1).abs(),
        "moved from {start:.0} to {found:.0}, optimum {b1:.0}"
    );
}

#[test]
fn an_automatic_sweep_judges_precision_against_its_leading_point() {
    use revplan::decide::{FAMILY_MIN_TRIALS, FAMILY_RELATIVE_SE, FAMILY_ROUND, paired_hits};
    let points: Vec<(String, Scenario)> = [40, 55, 70]
        .iter()
        .map(|v| {
            let set = format!("scoring.threshold={v}");
            (v.to_string(), load(SMALL, &[set.as_str()]))
        })
        .collect();
    let st = Settings {
        trials: Trials::Auto,
        seed: 4,
        max_trials: 65_536,
        engine: EngineKind::Leads,
        allow_large: false,
    };
    let sw = sweep("scoring.threshold", &points, Objective::Mean, &st, &|_| {}).unwrap();
    let n = sw.trials;
    assert!(
        n >= FAMILY_MIN_TRIALS && n.is_multiple_of(FAMILY_ROUND),
        "{n}"
    );
    // Every point's differences from the best are precise at the stop.
    let fixed = fixed(n, 4, EngineKind::Leads);
    let runs: Vec<_> = points
        .iter()
        .map(|(_, s)| run(s, &fixed, &|_| {}).unwrap())
        .collect();
    let best = &runs[sw.best];
    for (i, r) in runs.iter().enumerate().filter(|(i, _)| *i != sw.best) {
        let h = paired_hits(best, r, points[i].1.target.total);
        let d = paired(&best.per_trial, &r.per_trial);
        let bar = revplan::sim::AUTO_SE_MEAN * best.forecast.revenue.mean;
        assert!(h.std_error < revplan::sim::AUTO_SE_P_HIT.max(FAMILY_RELATIVE_SE * h.mean.abs()));
        assert!(
            d.std_error < bar.max(FAMILY_RELATIVE_SE * d.mean.abs()),
            "{i}: {d:?}"
        );
    }
}

/// `plan --confidence` searches the aim with goal's search: evaluations
/// far from the confidence stop once their side is clear, the plan
/// reported ran every trial and reaches the confidence, and on fresh random
/// numbers it does within the search's precision. (Before, every aim ran
/// every trial and the bisection was ask's own.)
#[test]
fn the_plans_confidence_search_stops_clear_evaluations_early() {
    let s = load(SMALL, &[]);
    let (trials, confidence) = (2048, 0.8);
    let p = revplan::decide::ask::ask(
        &s,
        &revplan::plan::PlanOptions::new(),
        Some(confidence),
        &settings(trials, 5, EngineKind::Auto),
        &|_| {},
    )
    .unwrap();
    let sizing = p.sizing.as_ref().unwrap();
    let sim = p.simulated.as_ref().unwrap();
    assert!(sizing.reached && p.aim > 1.0, "{sizing:?}");
    assert_eq!(sim.trials, trials);
    assert!(sim.p_hit >= confidence);
    let early: Vec<_> = sizing
        .evaluations
        .iter()
        .filter(|e| e.trials < trials)
        .collect();
    assert!(!early.is_empty(), "{:?}", sizing.evaluations);
    for e in &early {
        assert!(
            (e.p_hit - confidence).abs() > 3.0 * e.std_error * 0.95,
            "{e:?}"
        );
        assert!(e.trials >= revplan::decide::seek::STAGE_TRIALS);
    }
    // The aim found, on fresh random numbers.
    let fresh = simulate(
        &revplan::decide::ask::schedule(&s, &p),
        &fixed(trials, 777, EngineKind::Auto),
        &|_| {},
    )
    .unwrap();
    let se = (2.0 * confidence * (1.0 - confidence) / trials as f64).sqrt();
    assert!(
        fresh.p_hit_target > confidence - 4.0 * se,
        "fresh P(hit) {} vs {confidence} (se {se})",
        fresh.p_hit_target
    );
}

/// With `--trials auto`, `goal`'s first evaluation (the current value)
/// settles how many trials every evaluation runs: the first count, in
/// blocks from `FIRST_TRIALS`, at which its controlled P(hit) is as precise as
/// `DEFAULT_TRIALS` trials of the plain share would be (the trials times
/// the share of variance the controls keep). The value found is reported
/// from that many trials, and is what a fixed run of them gives.
#[test]
fn goal_with_auto_trials_runs_what_the_precision_of_the_plain_default_needs() {
    use revplan::decide::goal::DEFAULT_TRIALS;
    use revplan::decide::seek::FIRST_TRIALS;
    let s = load(SMALL, &["target.total=600000"]);
    let st = Settings {
        trials: Trials::Auto,
        ..settings(DEFAULT_TRIALS, 21, EngineKind::Leads)
    };
    let g = goal(&s, &Lever::Leads, 0.8, &st, &|_| {}).unwrap();
    let n = g.trials;
    assert!(g.reached, "{}", g.message);
    assert!((FIRST_TRIALS..DEFAULT_TRIALS).contains(&n), "{n}");
    let kept = |trials: u64| {
        let f = simulate(&s, &fixed(trials, 21, EngineKind::Leads), &|_| {}).unwrap();
        1.0 - f.p_hit_variance_removed
    };
    let block = revplan::sim::BLOCK;
    assert!(n as f64 >= kept(n) * DEFAULT_TRIALS as f64);
    assert!(n == FIRST_TRIALS || ((n - block) as f64) < kept(n - block) * DEFAULT_TRIALS as f64);
    let at = Lever::Leads.apply(&s, g.value.unwrap()).unwrap();
    let same = simulate(&at, &fixed(n, 21, EngineKind::Leads), &|_| {}).unwrap();
    assert_eq!(Some(same.p_hit_target), g.p_hit);
    assert_eq!(g.evaluations[0].trials, n);
}

/// The paired differences the decision rules read (`optimize`'s moves and
/// objective, `sensitivity`'s swings, a family's precision) are controlled
/// for the drawn rates and the deals' luck (issue 16). At a sensitivity's
/// first look, 256 trials, over independent seeds and for an input that
/// is an uncertain rate (fixed at its P10 and P90, so without its own
/// control) and one that is not: the differences of mean revenue and of
/// P(hit) are centred on those from many more trials, their standard
/// errors are the spread of their estimates (the mean z² within the
/// χ²(48) 99.9% bounds), and revenue's is smaller than the plain paired
/// error.
#[test]
fn controlled_paired_differences_are_centred_and_their_errors_honest_from_256_trials() {
    use revplan::decide::sensitivity::AUTO_FIRST;
    let even = "target.total=600000";
    for (lo, hi) in [
        (["deals.win_rate=0.19", even], ["deals.win_rate=0.31", even]),
        (
            ["scoring.threshold=55", even],
            ["scoring.threshold=65", even],
        ),
    ] {
        let (a, b) = (load(SMALL, &lo), load(SMALL, &hi));
        let diff = |trials: u64, seed: u64| {
            let opts = fixed(trials, seed, EngineKind::Leads);
            let (ra, rb) = (
                run(&a, &opts, &|_| {}).unwrap(),
                run(&b, &opts, &|_| {}).unwrap(),
            );
            let plain = paired(&ra.per_trial, &rb.per_trial).std_error;
            let revenue = paired_runs(&ra, &rb, &ra.per_trial, &rb.per_trial);
            (revenue, paired_hits(&ra, &rb, 600_000.0), plain)
        };
        let (truth_rev, truth_hit, _) = diff(32_768, 77);
        let runs = 48;
        let (mut z2, mut zsum, mut kept) = ([0.0; 2], [0.0; 2], 0.0);
        for k in 0..runs {
            let (rev, hit, plain) = diff(AUTO_FIRST, 1_000 + k);
            for (j, (d, t)) in [(&rev, &truth_rev), (&hit, &truth_hit)]
                .into_iter()
                .enumerate()
            {
                let z = (d.mean - t.mean) / d.std_error.hypot(t.std_error);
                z2[j] += z * z;
                zsum[j] += z;
            }
            kept += (rev.std_error / plain).powi(2);
        }
        let n = runs as f64;
        for j in 0..2 {
            let (z2, zbar) = (z2[j] / n, zsum[j] / n);
            // χ²(48)/48 lies within [0.46, 1.72] with probability 99.9%.
            assert!(z2 > 0.46 && z2 < 1.72, "{lo:?} ({j}): mean z² {z2}");
            assert!(zbar.abs() < 3.5 / n.sqrt(), "{lo:?} ({j}): mean z {zbar}");
        }
        assert!(
            truth_rev.mean.abs() > 10.0 * truth_rev.std_error,
            "{truth_rev:?}"
        );
        let kept = kept / n;
        // Measured: 0.19 and 0.24 of the plain paired variance kept.
        assert!(kept < 0.4, "{lo:?}: variance kept {kept}");
    }
}

/// With `--trials auto` the optimiser's evaluations run what its first
/// needed for its controlled objective to be as precise as the plain
/// mean of the default's trials: the first block count, from
/// `FIRST_TRIALS`, at which trials ≥ kept variance × `DEFAULT_TRIALS`; and
/// the split's figures are those of a fixed run of that many trials.
#[test]
fn optimize_with_auto_trials_runs_what_the_precision_of_the_plain_default_needs() {
    use revplan::decide::optimize::{DEFAULT_TRIALS, FIRST_TRIALS};
    let s = load(TWO, &[]);
    let chans = budget_channels(&s);
    let b = bounds(&s, &[]).unwrap();
    let budget = 40_000.0 * f64::from(s.weeks());
    let st = Settings {
        trials: Trials::Auto,
        ..settings(DEFAULT_TRIALS, 21, EngineKind::Leads)
    };
    let o = optimize(&s, budget, Objective::Mean, &b, &st, &|_| {}).unwrap();
    let n = o.trials;
    assert!((FIRST_TRIALS..DEFAULT_TRIALS).contains(&n), "{n}");
    let current: Vec<f64> = o.current.iter().map(|a| a.budget).collect();
    let mut at = s.clone();
    for (c, v) in chans.iter().zip(&current) {
        set_horizon_budget(&mut at, *c, *v);
    }
    let kept = |trials: u64| {
        let r = run(&at, &fixed(trials, 21, EngineKind::Leads), &|_| {}).unwrap();
        1.0 - r.mean_of(&r.per_trial).variance_removed()
    };
    let block = revplan::sim::BLOCK;
    assert!(n as f64 >= kept(n) * DEFAULT_TRIALS as f64);
    assert!(n == FIRST_TRIALS || ((n - block) as f64) < kept(n - block) * DEFAULT_TRIALS as f64);
    let same = run(&at, &fixed(n, 21, EngineKind::Leads), &|_| {}).unwrap();
    assert_eq!(o.current_figures, Figures::of(&same.forecast));
    assert_eq!(o.objective_current, Objective::Mean.of(&same));
}

/// The knob: the more deal sizes vary around the same mean, the more of
/// revenue's variance the deals' luck explains, and the fewer trials
/// `optimize --trials auto` settles on for the same precision (with every
/// channel at its upper bound, only the first evaluation runs).
#[test]
fn the_wider_the_deal_sizes_the_fewer_trials_optimize_settles_on() {
    use revplan::decide::optimize::{DEFAULT_TRIALS, FIRST_TRIALS};
    let settled = |size: &str| {
        let s = load(TWO, &[size]);
        let weeks = f64::from(s.weeks());
        let at_most = 20_000.0 * weeks;
        let b = bounds(
            &s,
            &[
                ("search".into(), None, Some(at_most)),
                ("social".into(), None, Some(at_most)),
            ],
        )
        .unwrap();
        let st = Settings {
            trials: Trials::Auto,
            ..settings(DEFAULT_TRIALS, 4, EngineKind::Leads)
        };
        let o = optimize(&s, 2.0 * at_most, Objective::Mean, &b, &st, &|_| {}).unwrap();
        assert_eq!(o.evaluations, 1, "{size}");
        o.trials
    };
    let (fixed, narrow, wide) = (
        settled("deals.size=20000"),
        settled("deals.size.sigma=0.2"),
        settled("deals.size.sigma=0.8"),
    );
    // Measured: 2,048, 768 and 512.
    assert!(fixed > narrow && narrow > wide, "{fixed} {narrow} {wide}");
    assert!(wide >= FIRST_TRIALS);
}

/// Around a given forecast (the board report's), the tornado's centre is
/// that forecast and nothing else changes: with fixed and with automatic
/// trials, the inputs' rows are those of `sensitivity` on its own.
#[test]
fn sensitivity_around_a_forecast_centres_on_it_and_keeps_its_rows() {
    use revplan::decide::sensitivity::sensitivity_around;
    let s = load(SMALL, &[]);
    let f = simulate(&s, &fixed(1_000, 6, EngineKind::Leads), &|_| {}).unwrap();
    let auto = Settings {
        trials: Trials::Auto,
        max_trials: 1_024,
        ..settings(0, 6, EngineKind::Leads)
    };
    for st in [settings(300, 6, EngineKind::Leads), auto] {
        let alone = sensitivity(&s, Swings::default(), &st, &|_, _| {}).unwrap();
        let around = sensitivity_around(&s, Swings::default(), &st, Some(&f), &|_, _| {}).unwrap();
        assert_eq!(around.inputs, alone.inputs);
        assert_eq!(
            (around.base_p50, around.base_p_hit),
            (f.revenue.p50, f.p_hit_target)
        );
        assert_eq!((around.trials, around.engine), (alone.trials, alone.engine));
    }
}

/// Common random numbers couple the Poisson-path engine's variants too: a
/// variant with more trade-show leads, or a higher MQL bar, shares its
/// base's win counts (one count per win rate, drawn by a sampler that moves
/// little with its mean) and its wins' sizes, so pairing takes out most of
/// the noise of the revenue difference. Measured: paired / unpaired
/// standard error 0.054 and 0.105 (0.038 and 0.098 when each week's wins
/// were a count of their own, drawn by inversion).
#[test]
fn pairing_couples_the_poisson_path_engines_variants() {
    let acme = "scenarios/acme-52w.toml";
    let base = load(acme, &[]);
    for (set, most) in [
        ("channels.trade_show.volume.leads_per_week=44", 0.15),
        ("scoring.threshold=62", 0.25),
    ] {
        let candidates = vec![Candidate {
            name: set.into(),
            description: None,
            scenario: load(acme, &[set]),
        }];
        let c = compare(
            &base,
            &candidates,
            &settings(8192, 3, EngineKind::Auto),
            &|_| {},
        )
        .unwrap();
        assert_eq!(c.engine, "poisson-paths");
        let d = &c.variants[1].delta_vs_base;
        let ratio = d.std_error / d.unpaired_std_error;
        eprintln!("{set}: paired / unpaired standard error {ratio:.3}");
        assert!(ratio < most, "{set}: {ratio:.3}");
    }
}
