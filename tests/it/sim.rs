//! The Monte Carlo engines: against the per-lead oracle, against the
//! analytic expected flow, across thread counts and seeds, and fed the
//! planner's schedule.

use revplan::model::{Scenario, SeasonBy, Seasonality, Volume};
use revplan::plan::plan;
use revplan::run::Trials;
use revplan::sim::{EngineKind, Forecast, RunConfig, simulate};
use revplan::timeline::{channel_response, deal_response};

use crate::oracle;
use crate::support::{fixed, root};

fn load(file: &str) -> Scenario {
    revplan::load::load_scenario(&root().join(file), &[])
        .unwrap()
        .base
}

fn forecast(s: &Scenario, engine: EngineKind, trials: u64, seed: u64) -> Forecast {
    simulate(s, &fixed(trials, seed, engine), &|_| {}).unwrap()
}

/// |a − b| within 4 combined standard errors.
fn agree(what: &str, a: (f64, f64), b: (f64, f64)) {
    let se = (a.1 * a.1 + b.1 * b.1).sqrt();
    let z = (a.0 - b.0) / se.max(1e-12);
    assert!(
        z.abs() < 4.0,
        "{what}: {} ± {} vs {} ± {} (z = {z:.2})",
        a.0,
        a.1,
        b.0,
        b.1
    );
}

/// The engine against the oracle: means of revenue, spend, every stage and
/// wins; revenue quantiles through the oracle's empirical CDF.
fn check_against_oracle(file: &str, engine: EngineKind, trials: u64, oracle_trials: u64) {
    let s = load(file);
    let f = forecast(&s, engine, trials, 11);
    let o = oracle::run(&s, oracle_trials, 99);
    let label = |x: &str| format!("{file} ({engine:?}) {x}");
    agree(
        &label("revenue"),
        (f.revenue.mean, f.revenue.std_error),
        oracle::mean_se(o.iter().map(|t| t.revenue)),
    );
    agree(
        &label("spend"),
        (f.spend.mean, f.spend.std_error),
        oracle::mean_se(o.iter().map(|t| t.spend)),
    );
    agree(
        &label("wins"),
        (f.stages.wins, f.stages.wins_std_error),
        oracle::mean_se(o.iter().map(|t| t.wins)),
    );
    for (j, st) in f.stages.by_stage.iter().enumerate() {
        agree(
            &label(&st.stage),
            (st.mean, st.std_error),
            oracle::mean_se(o.iter().map(|t| t.first[j])),
        );
    }
    // Weekly revenue means, pooled by quarter.
    for q in &f.quarters {
        let (lo, hi) = (q.first_week as usize, q.last_week as usize + 1);
        let oq = oracle::mean_se(o.iter().map(|t| t.revenue_weeks[lo..hi].iter().sum()));
        agree(&label(&q.label), (q.mean, q.std_error), oq);
    }
    let n_o = o.len() as f64;
    let n_e = f.trials as f64;
    for (p, q) in [
        (0.1, f.revenue.p10),
        (0.5, f.revenue.p50),
        (0.9, f.revenue.p90),
    ] {
        let below = o.iter().filter(|t| t.revenue <= q).count() as f64 / n_o;
        let se = (p * (1.0 - p) * (1.0 / n_o + 1.0 / n_e)).sqrt();
        assert!(
            (below - p).abs() < 4.0 * se,
            "{}: P{} = {q}: oracle share below {below}",
            label("quantile"),
            p * 100.0
        );
    }
    // Revenue in the last week of each quarter, where the quarter-end push
    // puts its closes (the engine's standard error from the oracle's, by
    // the trial counts).
    let ends: Vec<usize> = f.quarters.iter().map(|q| q.last_week as usize).collect();
    let (om, ose) = oracle::mean_se(
        o.iter()
            .map(|t| ends.iter().map(|w| t.revenue_weeks[*w]).sum()),
    );
    let em: f64 = ends.iter().map(|w| f.weeks[*w].mean).sum();
    agree(
        &label("quarter ends"),
        (em, ose * (n_o / n_e).sqrt()),
        (om, ose),
    );
    let hits = o.iter().filter(|t| t.revenue >= s.target.total).count() as f64 / n_o;
    agree(
        &label("P(hit)"),
        (f.p_hit_target, f.p_hit_std_error),
        (hits, (hits * (1.0 - hits) / n_o).sqrt()),
    );
}

#[test]
fn the_fast_engine_agrees_with_the_oracle() {
    check_against_oracle(
        "tests/data/engine-fast.toml",
        EngineKind::Fast,
        40_000,
        3_000,
    );
}

#[test]
fn the_lead_engine_agrees_with_the_oracle_on_every_mechanism() {
    check_against_oracle(
        "tests/data/engine-leads.toml",
        EngineKind::Leads,
        10_000,
        3_000,
    );
}

#[test]
fn the_lead_engine_agrees_with_the_oracle_on_what_tells_the_truth() {
    check_against_oracle(
        "tests/data/engine-truth.toml",
        EngineKind::Leads,
        10_000,
        3_000,
    );
}

#[test]
fn the_lead_engine_agrees_with_the_oracle_without_capacity() {
    check_against_oracle(
        "tests/data/engine-fast.toml",
        EngineKind::Leads,
        10_000,
        3_000,
    );
}

#[test]
fn the_cohort_engine_agrees_with_the_oracle_on_every_mechanism() {
    check_against_oracle(
        "tests/data/engine-leads.toml",
        EngineKind::Cohorts,
        10_000,
        3_000,
    );
}

#[test]
fn the_cohort_engine_agrees_with_the_oracle_on_what_tells_the_truth() {
    check_against_oracle(
        "tests/data/engine-truth.toml",
        EngineKind::Cohorts,
        10_000,
        3_000,
    );
}

#[test]
fn the_cohort_engine_agrees_with_the_oracle_without_capacity() {
    check_against_oracle(
        "tests/data/engine-fast.toml",
        EngineKind::Cohorts,
        10_000,
        3_000,
    );
}

/// The cohort engine against the lead engine on the shipped board plan
/// (every mechanism at once, scores in bands): means of revenue, each
/// stage, each quarter, P(hit), and the lead engine's share of trials
/// below the cohort engine's P10, P50 and P90 — all within 4 standard
/// errors. This bounds the effect of the score bands: at 4,000 trials a
/// bias of 0.5% of revenue would fail.
#[test]
fn the_cohort_engine_agrees_with_the_lead_engine_on_the_board_plan() {
    let s = load("scenarios/board-plan.toml");
    let opts = |engine| RunConfig {
        trials: Trials::Fixed(4_000),
        seed: 17,
        max_trials: 4_000,
        engine,
        allow_large: false,
    };
    let leads = revplan::sim::run(&s, &opts(EngineKind::Leads), &|_| {}).unwrap();
    let cohorts = revplan::sim::run(&s, &opts(EngineKind::Cohorts), &|_| {}).unwrap();
    let (l, c) = (&leads.forecast, &cohorts.forecast);
    assert_eq!((l.engine, c.engine), ("leads", "cohorts"));
    agree(
        "revenue",
        (c.revenue.mean, c.revenue.std_error),
        (l.revenue.mean, l.revenue.std_error),
    );
    agree(
        "P(hit)",
        (c.p_hit_target, c.p_hit_std_error),
        (l.p_hit_target, l.p_hit_std_error),
    );
    for (a, b) in c.stages.by_stage.iter().zip(&l.stages.by_stage) {
        agree(&a.stage, (a.mean, a.std_error), (b.mean, b.std_error));
    }
    for (a, b) in c.quarters.iter().zip(&l.quarters) {
        agree(&a.label, (a.mean, a.std_error), (b.mean, b.std_error));
        agree(
            &format!("{} P(hit)", a.label),
            (a.p_hit, a.p_hit_std_error),
            (b.p_hit, b.p_hit_std_error),
        );
    }
    let n = leads.per_trial.len() as f64;
    for (p, q) in [
        (0.1, c.revenue.p10),
        (0.5, c.revenue.p50),
        (0.9, c.revenue.p90),
    ] {
        let below = leads.per_trial.iter().filter(|x| **x <= q).count() as f64 / n;
        let se = (p * (1.0 - p) * 2.0 / n).sqrt();
        assert!((below - p).abs() < 4.0 * se, "P{}: {below}", p * 100.0);
    }
    // Per source: each channel's wins and revenue. The standard error of a
    // channel's mean wins is that of a Poisson count times the dispersion
    // of the total (its SE over the Poisson one: uncertain rates shared by
    // the channels make the total the more dispersed); revenue's, that
    // times the mean deal, with half again for the spread of deal sizes.
    let trials = 4_000f64;
    let dispersion = l.stages.wins_std_error / (l.stages.wins / trials).sqrt();
    for (a, b) in c.channels.iter().zip(&l.channels) {
        let (a, b, name) = (&a.figures, &b.figures, &a.name);
        let se = dispersion * ((a.wins + b.wins) / trials).sqrt();
        assert!(
            (a.wins - b.wins).abs() < 4.0 * se,
            "{name}: wins {} vs {}",
            a.wins,
            b.wins
        );
        let deal = b.revenue / b.wins;
        assert!(
            (a.revenue - b.revenue).abs() < 4.0 * 1.5 * se * deal,
            "{name}: revenue {} vs {}",
            a.revenue,
            b.revenue
        );
    }
}

#[test]
fn the_fast_engine_refuses_what_it_cannot_simulate() {
    let s = load("tests/data/engine-leads.toml");
    let opts = RunConfig {
        trials: Trials::Fixed(10),
        seed: 1,
        max_trials: 10,
        engine: EngineKind::Fast,
        allow_large: false,
    };
    let e = simulate(&s, &opts, &|_| {}).unwrap_err();
    assert!(e.to_string().contains("capacity"), "{e}");
    assert_eq!(forecast(&s, EngineKind::Auto, 10, 1).engine, "leads");
    assert_eq!(
        forecast(&load("scenarios/acme-52w.toml"), EngineKind::Auto, 10, 1).engine,
        "poisson-paths"
    );
}

/// The size check reckons a run's time from the engine that will run it: a
/// million trials of acme-52w take the Poisson-path engine seconds, even on
/// one thread, and are not refused as if every lead were followed (they
/// were: "about 17 min", from the lead engine's rate). Forced onto the lead
/// engine, the same run is past the 15-minute limit.
#[test]
fn the_size_check_reckons_with_the_engine_that_runs() {
    let s = load("scenarios/acme-52w.toml");
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let opts = |engine| RunConfig {
        trials: Trials::Fixed(1_000_000),
        seed: 1,
        max_trials: 1_000_000,
        engine,
        allow_large: false,
    };
    one.install(|| {
        let fast = revplan::sim::Runner::new(&s, &opts(EngineKind::Auto));
        assert!(fast.is_ok(), "{:?}", fast.err());
        let leads = revplan::sim::Runner::new(&s, &opts(EngineKind::Leads)).err();
        let why = leads.map(|e| e.to_string()).unwrap_or_default();
        assert!(why.contains("too large") && why.contains("min"), "{why}");
    });
    // The Poisson-path engine's work grows with the wins it sizes: at a
    // thousand times acme-52w's leads (some 290,000 wins a trial, about 4 ms
    // of work each), a million trials are refused; they were let through
    // when its estimate counted channel-weeks ("13 s").
    let mut big = s.clone();
    for ch in &mut big.model.channels {
        if let Volume::Leads(l) = &mut ch.volume {
            *l *= 1000.0;
        }
    }
    one.install(|| {
        let many = revplan::sim::Runner::new(&big, &opts(EngineKind::Auto)).err();
        let why = many.map(|e| e.to_string()).unwrap_or_default();
        assert!(why.contains("too large"), "{why}");
        let few = RunConfig {
            trials: Trials::Fixed(1_000),
            max_trials: 1_000,
            ..opts(EngineKind::Auto)
        };
        assert!(revplan::sim::Runner::new(&big, &few).is_ok());
    });
}

/// Expected counts from the timeline: arrivals convolved with one lead's
/// response, truncated at the horizon, plus the open deals'.
fn analytic(s: &Scenario) -> (Vec<f64>, f64) {
    let m = &s.model;
    let h = s.weeks() as usize;
    let params = m.param_means();
    let mut first = vec![0.0; m.stages.len()];
    let mut revenue = 0.0;
    for (c, ch) in m.channels.iter().enumerate() {
        let r = channel_response(m, c, &params, h);
        let size = ch.funnel.deal_size.mean();
        for a in 0..h {
            let lam = ch.expected_leads(a as u32, &s.calendar);
            for (j, f) in first.iter_mut().enumerate() {
                *f += lam * r.first[j][..h - a].iter().sum::<f64>();
            }
            revenue += lam * r.wins[..h - a].iter().sum::<f64>() * size;
        }
    }
    for d in &m.pipeline {
        let r = deal_response(m, d, &params, h);
        for (j, f) in first.iter_mut().enumerate() {
            *f += r.first[j].iter().sum::<f64>();
        }
        revenue += d.amount * r.wins.iter().sum::<f64>();
    }
    (first, revenue)
}

/// Some 32 checks, each at 4 standard errors: the chance that any of them
/// lands beyond 4 by chance is 32 × 6.3e−5 = 0.2%. (At 3, one of them did
/// for about 6% of seeds: when the lead engine's streams changed, seed 5 at
/// 20 000 trials (z = −3.6 on revenue; pooled over ten seeds × 60 000
/// trials, z = 0.38); when the Poisson-path engine's wins became one count
/// per win rate, seed 5 again, on acme-52w's revenue (z = −3.08; over
/// seeds 1–12 × 40 000 trials, pooled z = −0.49).)
#[test]
fn engine_means_match_the_analytic_flow_within_four_standard_errors() {
    for (file, engine, trials) in [
        ("tests/data/engine-fast.toml", EngineKind::Fast, 40_000),
        ("tests/data/engine-fast.toml", EngineKind::Leads, 60_000),
        ("scenarios/acme-52w.toml", EngineKind::Fast, 40_000),
        // 20 times the leads: some 5,800 wins a trial, drawn in chunks.
        ("acme-52w ×20", EngineKind::Fast, 4_000),
    ] {
        let s = if file == "acme-52w ×20" {
            let mut s = load("scenarios/acme-52w.toml");
            for ch in &mut s.model.channels {
                if let Volume::Leads(l) = &mut ch.volume {
                    *l *= 20.0;
                }
            }
            s
        } else {
            load(file)
        };
        let f = forecast(&s, engine, trials, 5);
        if file == "acme-52w ×20" {
            assert!(f.stages.wins > 4_000.0, "{} wins", f.stages.wins);
        }
        let (first, revenue) = analytic(&s);
        for (st, want) in f.stages.by_stage.iter().zip(&first) {
            let z = (st.mean - want) / st.std_error.max(1e-12);
            assert!(
                z.abs() < 4.0,
                "{file} {engine:?} {}: {} vs {want} (z {z:.2})",
                st.stage,
                st.mean
            );
        }
        let z = (f.revenue.mean - revenue) / f.revenue.std_error;
        assert!(
            z.abs() < 4.0,
            "{file} {engine:?} revenue: {} vs {revenue} (z {z:.2})",
            f.revenue.mean
        );
    }
}

fn json(f: &Forecast) -> String {
    serde_json::to_string(f).unwrap()
}

#[test]
fn results_are_identical_for_any_number_of_threads() {
    for (file, engine) in [
        ("scenarios/acme-52w.toml", EngineKind::Fast),
        ("tests/data/engine-leads.toml", EngineKind::Leads),
        ("tests/data/engine-leads.toml", EngineKind::Cohorts),
        ("scenarios/board-plan.toml", EngineKind::Cohorts),
    ] {
        let s = load(file);
        let runs: Vec<String> = [1, 2, 3]
            .iter()
            .map(|t| crate::support::with_threads(*t, || json(&forecast(&s, engine, 5_000, 42))))
            .collect();
        assert_eq!(runs[0], runs[1], "{file}: 1 vs 2 threads");
        assert_eq!(runs[0], runs[2], "{file}: 1 vs 3 threads");
    }
}

#[test]
fn a_streamed_run_merges_its_blocks_in_trial_order() {
    // A fixed run streams its blocks (each thread takes the next one when
    // free); a run advanced batch by batch merges them in the same order.
    // Both must give the same trials, whatever the threads, and the
    // progress told must rise block by block to the trials asked for.
    let s = load("tests/data/engine-leads.toml");
    let opts = fixed(6_000, 9, EngineKind::Leads);
    let batched = crate::support::with_threads(2, || {
        let mut r = revplan::sim::Runner::new(&s, &opts).unwrap();
        r.advance(6_000u64.div_ceil(revplan::sim::BLOCK));
        r.finish(String::new())
    });
    for threads in [1, 2, 3, 8] {
        let told = std::sync::Mutex::new(Vec::new());
        let streamed = crate::support::with_threads(threads, || {
            let mut r = revplan::sim::Runner::new(&s, &opts).unwrap();
            r.stream(&|n| told.lock().unwrap().push(n));
            r.finish(String::new())
        });
        assert!(
            streamed.per_trial == batched.per_trial,
            "{threads} threads: the trials differ"
        );
        assert_eq!(json(&streamed.forecast), json(&batched.forecast));
        let told = told.into_inner().unwrap();
        let block = revplan::sim::BLOCK;
        let expected: Vec<u64> = (1..=6_000u64.div_ceil(block))
            .map(|b| (b * block).min(6_000))
            .collect();
        assert_eq!(told, expected, "{threads} threads: progress");
    }
}

#[test]
fn seeds_are_stable_and_distinct() {
    let s = load("scenarios/acme-52w.toml");
    let a = forecast(&s, EngineKind::Fast, 2_048, 1);
    let b = forecast(&s, EngineKind::Fast, 2_048, 1);
    let c = forecast(&s, EngineKind::Fast, 2_048, 2);
    assert_eq!(json(&a), json(&b));
    assert_ne!(a.revenue.mean, c.revenue.mean);
    // Pinned: a change in the streams or the samplers shows up here.
    insta::assert_snapshot!(
        "acme_seed_1_2048_trials",
        format!(
            "mean {:.6}\np10 {:.6}\np50 {:.6}\np90 {:.6}\np_hit {:.6}\nleads {:.6}\nwins {:.6}",
            a.revenue.mean,
            a.revenue.p10,
            a.revenue.p50,
            a.revenue.p90,
            a.p_hit_target,
            a.stages.leads,
            a.stages.wins
        )
    );
}

#[test]
fn a_variant_identical_to_the_base_gives_identical_numbers() {
    let loaded = revplan::load::scenario_from_str(
        "v.toml",
        "name = \"v\"\nmodel = \"engine.toml\"\nhorizon_weeks = 26\n[target]\ntotal = 900_000\n\
         [[variants]]\nname = \"same\"\nset.scoring.threshold = 55\n",
        &root().join("tests/data"),
        &[],
    )
    .unwrap();
    let base = forecast(&loaded.base, EngineKind::Leads, 2_000, 3);
    let same = forecast(&loaded.variants[0].scenario, EngineKind::Leads, 2_000, 3);
    assert_eq!(json(&base), json(&same));
}

/// Sets every channel's weekly volume to the plan's (52-week horizons).
fn feed(s: &mut Scenario, p: &revplan::plan::Plan) {
    for ch in &mut s.model.channels {
        let weekly: Vec<f64> = p
            .weeks
            .iter()
            .map(|w| w.leads_by_channel[&ch.name])
            .collect();
        assert_eq!(weekly.len(), 52);
        ch.volume = Volume::Leads(1.0);
        ch.active_weeks = None;
        ch.seasonality = Some(Seasonality {
            by: SeasonBy::Week,
            factors: weekly,
        });
    }
}

#[test]
fn the_plan_fed_to_the_simulation_reaches_the_target_minus_the_gap() {
    for file in ["scenarios/acme-52w.toml", "scenarios/board-plan.toml"] {
        let mut s = load(file);
        let p = plan(&s, &revplan::plan::PlanOptions::new()).unwrap();
        feed(&mut s, &p);
        let f = forecast(&s, EngineKind::Auto, 20_000, 7);
        let want = p.target - p.pipeline_gap.total;
        let tol = 0.01 * want + 3.0 * f.revenue.std_error;
        assert!(
            (f.revenue.mean - want).abs() <= tol,
            "{file}: simulated {} vs target − gap {want} (tolerance {tol})",
            f.revenue.mean
        );
    }
}

#[test]
fn auto_trials_stop_once_the_standard_errors_are_small() {
    let s = load("scenarios/acme-52w.toml");
    let opts = RunConfig {
        trials: Trials::Auto,
        seed: 1,
        max_trials: 1_000_000,
        engine: EngineKind::Auto,
        allow_large: false,
    };
    let f = simulate(&s, &opts, &|_| {}).unwrap();
    assert!(f.auto_trials && f.trials < 1_000_000);
    assert!(f.p_hit_std_error < 0.005);
    assert!(f.revenue.std_error < 0.005 * f.revenue.mean);
    assert_eq!(f.trials % revplan::sim::fast::FAST_BLOCK, 0);
    // A cap below what is needed is reported.
    let capped = simulate(
        &s,
        &RunConfig {
            max_trials: 2_048,
            ..opts
        },
        &|_| {},
    )
    .unwrap();
    assert_eq!(capped.trials, 2_048);
    assert!(capped.stopped.contains("cap"), "{}", capped.stopped);
}

/// P(hit) of `runs` independent runs of `trials` (seeds from `seed`)
/// against `truth`: the mean squared z-score, the mean z-score and the
/// mean share of the plain share's variance kept by the controls.
fn p_hit_z_scores(
    s: &Scenario,
    engine: EngineKind,
    truth: &Forecast,
    runs: u64,
    trials: u64,
    seed: u64,
) -> (f64, f64, f64) {
    let (mut z2, mut zsum, mut kept) = (0.0, 0.0, 0.0);
    for k in 0..runs {
        let f = forecast(s, engine, trials, seed + k);
        let se = f.p_hit_std_error.hypot(truth.p_hit_std_error);
        let z = (f.p_hit_target - truth.p_hit_target) / se;
        z2 += z * z;
        zsum += z;
        kept += 1.0 - f.p_hit_variance_removed;
    }
    let n = runs as f64;
    (z2 / n, zsum / n, kept / n)
}

/// P(hit) is controlled for the win rate each trial drew (issue 16): over
/// independent seeds, its standard error is the spread of its estimates
/// (the mean squared z-score against P(hit) from many more trials is
/// within the χ² bounds of 128 runs), it is centred there, and it is
/// smaller than the plain share's, here by more than a third.
#[test]
fn p_hit_controlled_for_the_drawn_rates_is_centred_and_its_error_honest() {
    let s = load("scenarios/acme-52w.toml");
    let truth = forecast(&s, EngineKind::Fast, 1 << 18, 4242);
    let runs = 128;
    let (z2, zbar, kept) = p_hit_z_scores(&s, EngineKind::Fast, &truth, runs, 2_048, 10_000);
    let runs = runs as f64;
    // χ²(128)/128 lies within 1 ± 0.41 with probability 99.9%; the plain
    // share's larger error would put it near 0.5.
    assert!((z2 - 1.0).abs() < 0.41, "mean z² {z2}");
    assert!(zbar.abs() < 3.5 / runs.sqrt(), "mean z {zbar}");
    assert!(kept < 0.65, "variance kept {kept}");
}

/// Without uncertain rates there is nothing to control for: P(hit) is the
/// share of trials that hit, with the binomial error.
#[test]
fn p_hit_without_uncertain_rates_is_the_share_of_trials_that_hit() {
    let s = revplan::load::load_scenario(
        &root().join("scenarios/acme-52w.toml"),
        &["deals.win_rate=0.22".to_string()],
    )
    .unwrap()
    .base;
    let opts = RunConfig {
        trials: Trials::Fixed(4_096),
        seed: 5,
        max_trials: 4_096,
        engine: EngineKind::Fast,
        allow_large: false,
    };
    let r = revplan::sim::run(&s, &opts, &|_| {}).unwrap();
    let hits = r
        .per_trial_goal
        .iter()
        .filter(|g| **g >= s.target.total)
        .count();
    let p = hits as f64 / 4_096.0;
    assert_eq!(r.forecast.p_hit_target, p);
    let binomial = (p * (1.0 - p) / 4_096.0).sqrt();
    assert!((r.forecast.p_hit_std_error - binomial).abs() < 1e-12 * binomial);
    assert_eq!(r.forecast.p_hit_variance_removed, 0.0);
    assert!(p > 0.05 && p < 0.95, "{p}");
}

/// The knob: the less certain the win rate, the more of P(hit)'s variance
/// its draw explains and the control takes out; a fixed rate leaves
/// nothing to take out.
#[test]
fn the_wider_the_rates_uncertainty_the_more_the_control_takes_out() {
    let removed = |win_rate: &str| {
        let s = revplan::load::load_scenario(
            &root().join("scenarios/acme-52w.toml"),
            &[format!("deals.win_rate={win_rate}")],
        )
        .unwrap()
        .base;
        forecast(&s, EngineKind::Fast, 8_192, 3).p_hit_variance_removed
    };
    let wide = removed("{ alpha = 30, beta = 90 }");
    let narrow = removed("{ alpha = 300, beta = 900 }");
    let fixed = removed("0.25");
    assert!(
        wide > 0.4 && narrow < 0.25 && narrow > 0.02,
        "{wide} {narrow}"
    );
    assert_eq!(fixed, 0.0);
}

/// The small plan with a target it hits about half the time, with `sets`.
fn small_at_even_odds(sets: &[&str]) -> Scenario {
    let mut sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    sets.push("target.total=600000".into());
    revplan::load::load_scenario(&root().join("tests/data/small-scenario.toml"), &sets)
        .unwrap()
        .base
}

/// Each trial's luck in its deals (`control::LUCK` columns after the
/// rates' draws), from a run's per-trial draws: every column's mean and
/// standard error.
fn luck_means(r: &revplan::sim::Run, rates: usize) -> Vec<(f64, f64)> {
    use revplan::sim::control::LUCK;
    let k = rates + LUCK;
    assert_eq!(r.per_trial_draws.len(), k * r.forecast.trials as usize);
    (rates..k)
        .map(|j| {
            let col: Vec<f64> = r
                .per_trial_draws
                .iter()
                .skip(j)
                .step_by(k)
                .copied()
                .collect();
            oracle::mean_se(col.into_iter())
        })
        .collect()
}

/// The deals' luck the lead and cohort engines add as controls has mean
/// zero: each variable is a sum of draws less their expectations, so its
/// mean over many trials is within four standard errors of 0, on groups
/// (the cohort engine at ten times the volume) as on single leads. It
/// varies (it is no constant), and where deals have no size spread the
/// size luck is exactly 0.
#[test]
fn the_deals_luck_has_mean_zero_on_every_engine_that_adds_it() {
    let run = |s: &Scenario, engine, trials| {
        let opts = RunConfig {
            trials: Trials::Fixed(trials),
            seed: 77,
            max_trials: trials,
            engine,
            allow_large: true,
        };
        revplan::sim::run(s, &opts, &|_| {}).unwrap()
    };
    let s = small_at_even_odds(&[]);
    let mut large = s.clone();
    revplan::decide::levers::scale_business(&mut large, 10.0);
    for (s, engine, trials) in [
        (&s, EngineKind::Leads, 32_768),
        (&large, EngineKind::Cohorts, 4_096),
    ] {
        // One uncertain rate (the win rate) is drawn before the luck.
        for (j, (mean, se)) in luck_means(&run(s, engine, trials), 1)
            .into_iter()
            .enumerate()
        {
            assert!(se > 0.0, "{engine:?} luck {j} never varies");
            assert!(mean.abs() < 4.0 * se, "{engine:?} luck {j}: {mean} ± {se}");
        }
    }
    let fixed = run(
        &small_at_even_odds(&["deals.size=20000"]),
        EngineKind::Leads,
        1_024,
    );
    let size_luck = luck_means(&fixed, 1)[revplan::sim::control::SIZE_LUCK];
    assert_eq!(size_luck, (0.0, 0.0));
}

/// P(hit) controlled for the drawn rate and the deals' luck on the lead
/// engine: over independent seeds its standard error is the spread of
/// its estimates (the mean squared z-score against P(hit) from many more
/// trials is within the χ² bounds of 48 runs), it is centred there, and
/// it keeps less of the plain share's variance than the rate alone did.
#[test]
fn p_hit_controlled_for_the_deals_luck_is_centred_and_its_error_honest() {
    let s = small_at_even_odds(&[]);
    let truth = forecast(&s, EngineKind::Leads, 1 << 16, 4242);
    let runs = 48;
    let (z2, zbar, kept) = p_hit_z_scores(&s, EngineKind::Leads, &truth, runs, 1_024, 20_000);
    let runs = runs as f64;
    // χ²(48)/48 lies within [0.46, 1.72] with probability 99.9%.
    assert!(z2 > 0.46 && z2 < 1.72, "mean z² {z2}");
    assert!(zbar.abs() < 3.5 / runs.sqrt(), "mean z {zbar}");
    assert!(truth.p_hit_target > 0.3 && truth.p_hit_target < 0.7);
    assert!(kept < 0.75, "variance kept {kept}");
}

/// The knob: the more deal sizes vary around the same mean, the more of
/// P(hit)'s variance the deals' luck explains and the control takes out
/// (41% at σ = 0.1, 51% at σ = 0.8 of a lognormal, on the same trials).
#[test]
fn the_wider_the_deal_sizes_the_more_the_luck_takes_out() {
    let removed = |sigma: f64| {
        let median = 20_000.0 * (0.18 - sigma * sigma / 2.0f64).exp();
        let size =
            format!("deals.size={{ dist = \"lognormal\", median = {median}, sigma = {sigma} }}");
        let s = small_at_even_odds(&[size.as_str(), "deals.win_rate=0.25"]);
        forecast(&s, EngineKind::Leads, 8_192, 3).p_hit_variance_removed
    };
    let (narrow, wide) = (removed(0.1), removed(0.8));
    assert!(wide > narrow + 0.05, "{narrow} {wide}");
}
