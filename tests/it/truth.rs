//! The model tells the truth: each defect a revenue leader found is kept
//! here as a regression test, with the number that shows it fixed, and
//! each knob is turned the way a revenue leader would turn it (more
//! touches, a higher threshold, an older deal, a second year) to check the
//! direction as a property.

use revplan::decide::compare::{Candidate, compare};
use revplan::decide::sweep::sweep;
use revplan::decide::{Objective, Settings};
use revplan::model::{Capacity, Scenario};
use revplan::plan::{PlanOptions, plan};
use revplan::run::Trials;
use revplan::sim::{EngineKind, Forecast, RunConfig, simulate};

use crate::support::{revplan, root};

fn load(file: &str, sets: &[&str]) -> Scenario {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    revplan::load::load_scenario(&root().join(file), &sets)
        .unwrap_or_else(|e| panic!("{}", e.render(false, 100)))
        .base
}

fn settings(trials: u64, seed: u64) -> Settings {
    Settings {
        trials: Trials::Fixed(trials),
        seed,
        max_trials: trials,
        engine: EngineKind::Auto,
        allow_large: false,
    }
}

fn forecast(s: &Scenario, trials: u64, seed: u64) -> Forecast {
    let opts = RunConfig {
        trials: Trials::Fixed(trials),
        seed,
        max_trials: trials,
        engine: EngineKind::Auto,
        allow_large: false,
    };
    simulate(s, &opts, &|_| {}).unwrap()
}

const BOARD: &str = "scenarios/board-plan.toml";

/// A sweep of one key over values on the same random numbers.
fn sweep_of(
    file: &str,
    sets: &[&str],
    key: &str,
    values: &[&str],
    objective: Objective,
) -> revplan::decide::sweep::Sweep {
    let points: Vec<(String, Scenario)> = values
        .iter()
        .map(|v| {
            let kv = format!("{key}={v}");
            let mut all: Vec<&str> = sets.to_vec();
            all.push(&kv);
            (v.to_string(), load(file, &all))
        })
        .collect();
    sweep(key, &points, objective, &settings(1024, 5), &|_| {}).unwrap()
}

// ---------------------------------------------------------------------------
// 1. More follow-up helps while the team has the time.

#[test]
fn more_touches_never_lower_acceptance_while_the_team_has_the_time() {
    // The mechanism itself, exactly: P(accepted) rises with the share of
    // the SLA's touches made and with the touches the SLA asks.
    let s = load(BOARD, &["capacity.reps=unlimited"]);
    let m = &s.model;
    let params = m.param_means();
    for score in [55.0, 60.0, 70.0, 80.0, 95.0] {
        let mut last = 0.0;
        for share in [0.0, 0.1, 0.3, 0.5, 0.8, 1.0] {
            let p = m.p_accept(score, share, &params);
            assert!(p >= last, "score {score}, share {share}: {p} < {last}");
            last = p;
        }
    }
    // Swept on the same random numbers, with reps as the SLA needs.
    let sw = sweep_of(
        BOARD,
        &["capacity.reps=unlimited"],
        "capacity.tiers[1].touches",
        &["1", "3", "6", "9"],
        Objective::PHit,
    );
    let acc: Vec<f64> = sw
        .points
        .iter()
        .map(|p| p.figures.acceptance_rate.unwrap())
        .collect();
    assert!(acc.windows(2).all(|w| w[1] > w[0]), "{acc:?}");
    // Before: 55.5% at 1 touch, 55.2% at 3. Now the team that reaches its
    // leads accepts far more of them.
    assert!(acc[0] < 0.35 && acc[3] > 0.55, "{acc:?}");
}

#[test]
fn a_short_team_finds_the_real_optimum_of_touches() {
    // Two reps: at 9 touches for B-tier MQLs the team runs out of time and
    // each lead gets fewer; 6 is the best the sweep can find (before: 1).
    let sw = sweep_of(
        BOARD,
        &[],
        "capacity.tiers[1].touches",
        &["1", "3", "6", "9"],
        Objective::PHit,
    );
    assert_eq!(sw.points[sw.best].value, "6", "{:?}", sw.tied);
    let load = |i: usize| sw.points[i].sales_load.unwrap();
    assert!(load(3) > 1.0 && load(1) < 1.0);
}

// ---------------------------------------------------------------------------
// 2. The score matters after acceptance.

#[test]
fn a_higher_score_lifts_every_later_conversion_and_the_deal_size() {
    let s = load(BOARD, &[]);
    let m = &s.model;
    let q = m.scoring.quality.as_ref().unwrap();
    let params = m.param_means();
    let funnel = &m.channels[0].funnel;
    let mut last: Option<Vec<f64>> = None;
    for score in [45.0, 55.0, 65.0, 75.0, 85.0, 95.0] {
        let lifted = q.lifted(funnel, &params, score);
        let rates: Vec<f64> = funnel
            .transitions
            .iter()
            .filter_map(|t| match t.advance {
                revplan::model::Advance::Rate(p) | revplan::model::Advance::Win(p) => {
                    Some(lifted[p])
                }
                _ => None,
            })
            .chain([q.size_factor(score)])
            .collect();
        if let Some(prev) = &last {
            assert!(
                rates.iter().zip(prev).all(|(a, b)| a > b),
                "score {score}: {rates:?} vs {prev:?}"
            );
        }
        last = Some(rates);
    }
}

#[test]
fn a_lower_threshold_trades_quality_for_volume() {
    // Without a limit on sales (and no cost to follow up), every MQL adds
    // revenue, but each weaker one adds less: revenue per MQL falls as the
    // bar falls. Before, revenue doubled from threshold 60 to 0 ($9.4M to
    // $17.6M) because a lead's score stopped mattering at acceptance.
    let sw = sweep_of(
        BOARD,
        &["capacity=unlimited"],
        "scoring.threshold",
        &["0", "40", "50", "60", "70"],
        Objective::Mean,
    );
    let per_mql: Vec<f64> = sw
        .points
        .iter()
        .map(|p| p.figures.revenue.mean / p.figures.stages.mqls)
        .collect();
    assert!(per_mql.windows(2).all(|w| w[1] > w[0]), "{per_mql:?}");
    let gain = sw.points[0].figures.revenue.mean / sw.points[3].figures.revenue.mean;
    assert!(gain < 1.6, "threshold 0 against 60: ×{gain}");
    // With reps paid per touch the lowest bar is no longer the best.
    let sw = sweep_of(
        BOARD,
        &["capacity.reps=unlimited"],
        "scoring.threshold",
        &["0", "40", "60"],
        Objective::Contribution,
    );
    assert_ne!(sw.points[sw.best].value, "0");
}

// ---------------------------------------------------------------------------
// 3. Revenue by source is the revenue of that source's new leads.

#[test]
fn sources_and_the_open_pipeline_add_up_to_the_revenue_in_every_trial() {
    let s = load(BOARD, &[]);
    for seed in 0..12 {
        // One trial: the means are that trial's values.
        let f = forecast(&s, 1, seed);
        let sources: f64 = f.channels.iter().map(|c| c.figures.revenue).sum();
        let total = sources + f.pipeline.figures.revenue;
        assert!(
            (total - f.revenue.mean).abs() <= 1e-6 * f.revenue.mean.max(1.0),
            "seed {seed}: {sources} + {} vs {}",
            f.pipeline.figures.revenue,
            f.revenue.mean
        );
        assert!((sources - f.revenue_new.mean).abs() <= 1e-6 * sources.max(1.0));
    }
}

#[test]
fn monthly_reports_follow_each_months_leads() {
    // A month with no leads of a channel has no revenue from it (before,
    // trade shows had revenue in months without shows, and webinars an
    // August ROI of 14×).
    let f = forecast(&load(BOARD, &[]), 1024, 3);
    for c in &f.channels {
        for m in &c.months {
            if m.figures.leads == 0.0 {
                assert_eq!(m.figures.revenue, 0.0, "{} {}", c.name, m.label);
                assert_eq!(m.figures.wins, 0.0, "{} {}", c.name, m.label);
                assert_eq!(m.figures.roi, None, "{} {}", c.name, m.label);
            }
            assert!(m.figures.revenue_eventual >= m.figures.revenue - 1e-6);
        }
    }
    // Trade shows run three times a year: nine months have no show, no
    // leads and so no revenue from trade shows.
    let shows = f.channels.iter().find(|c| c.name == "trade_shows").unwrap();
    let empty = shows
        .months
        .iter()
        .filter(|m| m.figures.leads == 0.0)
        .count();
    assert!(empty >= 8, "{empty}");
}

// ---------------------------------------------------------------------------
// 4. Sales costs something; 5. one acceptance rate.

#[test]
fn hires_cost_and_every_command_defines_cac_and_acceptance_alike() {
    let base = load(BOARD, &[]);
    let loaded = revplan::load::load_scenario(&root().join(BOARD), &[]).unwrap();
    let sdrs = loaded.variant("two-more-sdrs").unwrap();
    let c = compare(
        &base,
        &[Candidate {
            name: sdrs.name.clone(),
            description: None,
            scenario: sdrs.scenario.clone(),
        }],
        &settings(1024, 9),
        &|_| {},
    )
    .unwrap();
    let (b, v) = (&c.variants[0].figures, &c.variants[1].figures);
    // Two reps from week 13 to 51 at $1,700 a week: the payroll is exact.
    let extra = 2.0 * 39.0 * 1700.0;
    assert!((v.sales_cost.mean - b.sales_cost.mean - extra).abs() < 1e-6);
    // CAC: marketing and sales per win of the new leads, as in metrics.
    let f = &c.base_forecast;
    let wins: f64 = f.channels.iter().map(|c| c.figures.wins).sum();
    let cac = (f.spend.mean + f.sales_cost.mean) / wins;
    assert!((b.cac.unwrap() - cac).abs() < 1e-6 * cac);
    assert!(b.cac.unwrap() > b.cac_marketing.unwrap());
    // Acceptance: SALs per MQL of the new leads, the same in every table.
    let (sals, mqls) = f.channels.iter().fold((0.0, 0.0), |(s, m), c| {
        (s + c.figures.sals, m + c.figures.mqls)
    });
    assert!((b.acceptance_rate.unwrap() - sals / mqls).abs() < 1e-12);
    // The plan: the same definitions on its own flows.
    let p = plan(&base, &PlanOptions::new()).unwrap();
    let h = &p.headline;
    let new_wins: f64 = p.channels.iter().map(|c| c.wins).sum();
    assert!((h.cac.unwrap() - (h.budget + h.sales_cost) / new_wins).abs() < 1e-6 * h.cac.unwrap());
    // The difference of trial outcomes counts ties apart.
    let d = &c.variants[1].delta_vs_base;
    assert!((d.p_better + d.p_tie + d.p_worse - 1.0).abs() < 1e-12);
    let same = &c.variants[0].delta_vs_base;
    assert_eq!(same.p_tie, 1.0);
}

// ---------------------------------------------------------------------------
// 6. Aged open deals.

const STALE: &str = r#"
name = "stale"
model = "engine.toml"
horizon_weeks = 52
[target]
total = 2_000_000
[pipeline]
"#;

fn stale_scenario(sets: &[&str]) -> Scenario {
    // 200 opportunities of $30K open for 150 weeks (the cycle's median is
    // 5 weeks; marked "omitted" to be seen apart from the model's other
    // open deals): before, all closed in week 0 at the full win rate.
    let mut text = STALE.to_string();
    text.push_str("deals = [\n");
    for i in 0..200 {
        text.push_str(&format!(
            "  {{ stage = \"opportunity\", amount = 30000, age_weeks = 150, id = \"OLD-{i}\", \
             category = \"omitted\" }},\n"
        ));
    }
    text.push_str("]\n");
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    revplan::load::scenario_from_str("stale.toml", &text, &root().join("tests/data"), &sets)
        .unwrap_or_else(|e| panic!("{}", e.render(false, 100)))
        .base
}

/// The forecast of the stale deals alone: the "omitted" category.
fn stale_revenue(f: &Forecast) -> f64 {
    f.pipeline
        .by_category
        .iter()
        .find(|c| c.category == revplan::model::Category::Omitted)
        .map_or(0.0, |c| c.figures.revenue)
}

#[test]
fn deals_older_than_any_cycle_do_not_close_at_once() {
    // By default they are stale, left out, and a warning says so.
    let s = stale_scenario(&[]);
    let w = &s.model.warnings;
    assert!(w.iter().any(|x| x.starts_with("200 open deal(s)")), "{w:?}");
    assert_eq!(s.model.stale.as_ref().unwrap().count, 200);
    assert!(s.model.pipeline.iter().all(|d| d.age_weeks < 150));
    // Kept at their age: no won cycle is that long, so none is won.
    let keep = forecast(&stale_scenario(&["pipeline.stale=\"keep\""]), 1024, 4);
    assert_eq!(stale_revenue(&keep), 0.0);
    // Capped at the stale age, they are old but alive: a few still win,
    // over the weeks their remaining cycles take, not in week 0.
    let capped = stale_scenario(&["pipeline.stale=\"cap\""]);
    let f = forecast(&capped, 1024, 4);
    let revenue = stale_revenue(&f);
    assert!(
        revenue > 0.0 && revenue < 0.25 * 200.0 * 30_000.0,
        "{revenue}"
    );
    let weeks = capped.model.stale.as_ref().unwrap().after_weeks;
    let d = capped
        .model
        .pipeline
        .iter()
        .find(|d| d.category.is_some())
        .unwrap();
    assert_eq!(d.age_weeks, weeks);
}

#[test]
fn an_aged_deal_wins_and_closes_as_its_survival_says() {
    // Geometric won and lost cycles (exponential, rounded to weeks): a deal
    // open for `a` weeks has the same remaining time as a new one, and
    // P(win | a) = w·q_w^a / (w·q_w^a + (1 − w)·q_l^a), q = P(cycle > k | ≥ k).
    use revplan::dist::{Delay, Dist};
    let won = Delay::from_dist(&Dist::gamma(1.0, 4.0).unwrap());
    let lost = Delay::from_dist(&Dist::gamma(1.0, 10.0).unwrap());
    let (qw, ql) = ((-0.25f64).exp(), (-0.1f64).exp());
    for a in [1u32, 3, 8, 20] {
        let rem = won.remaining_after(a);
        for k in 0..6u32 {
            let want = (1.0 - qw) * qw.powi(k as i32);
            assert!((rem.prob(k) - want).abs() < 1e-6, "age {a}, k {k}");
        }
        let s = revplan::pipeline::Survivals {
            won: revplan::pipeline::survival(&won, a),
            lost: revplan::pipeline::survival(&lost, a),
        };
        let w = 0.3;
        // From week 1 on the survival of a rounded exponential is
        // q^(a − 1/2): the half weeks cancel in the ratio.
        let (sw, sl) = (qw.powf(f64::from(a) - 0.5), ql.powf(f64::from(a) - 0.5));
        let want = w * sw / (w * sw + (1.0 - w) * sl);
        assert!((s.p_win(w) - want).abs() < 1e-6, "age {a}");
    }
}

// ---------------------------------------------------------------------------
// 7. The funnel starts where it is.

#[test]
fn mqls_in_flight_are_accepted_and_nurtured_leads_cross_the_threshold() {
    let text = r#"
name = "in flight"
model = "engine.toml"
horizon_weeks = 60
[target]
total = 100_000
[channels.search]
volume = { leads_per_week = 0 }
[channels.events]
volume = { leads_per_week = 0 }
[pipeline]
deals = [
  { stage = "mql", age_weeks = 0, score = 70, channel = "search" },
  { stage = "lead", age_weeks = 2, score = 50, channel = "search" },
]
"#;
    let sets = vec![];
    let loaded =
        revplan::load::scenario_from_str("f.toml", text, &root().join("tests/data"), &sets)
            .unwrap();
    let s = loaded.base;
    let m = &s.model;
    let params = m.param_means();
    let f = forecast(&s, 40_000, 2);
    // One MQL, decided in week 1: it becomes a SAL with P(accept | 70), or
    // is rejected and recycled (30%) to be decided again: eventually a SAL
    // with p / (1 − 0.3 (1 − p)). And the nurtured lead: score 50 → 57
    // with one engagement (weekly probability 0.2) in the 4 weeks it has
    // left, then the same at 57.
    let sal = m.stages.iter().position(|x| x.name == "sal").unwrap();
    let p_cross = 1.0 - 0.8f64.powi(4);
    let eventually = |p: f64| p / (1.0 - 0.3 * (1.0 - p));
    let want = eventually(m.p_accept(70.0, 1.0, &params))
        + p_cross * eventually(m.p_accept(57.0, 1.0, &params));
    let got = &f.stages.by_stage[sal];
    assert!(
        (got.mean - want).abs() < 4.0 * got.std_error,
        "{} vs {want}",
        got.mean
    );
    let mql = &f.stages.by_stage[1];
    assert!(
        (mql.mean - p_cross).abs() < 4.0 * mql.std_error,
        "{} vs {p_cross}",
        mql.mean
    );
}

// ---------------------------------------------------------------------------
// 8. Years repeat, channels grow.

#[test]
fn a_second_year_repeats_the_first_and_growth_compounds() {
    let s = load(
        BOARD,
        &["horizon_weeks=104", "channels.paid_search.growth=0.2"],
    );
    let cal = &s.calendar;
    for c in &s.model.channels {
        let g = if c.name == "paid_search" { 1.2 } else { 1.0 };
        for w in 0..52 {
            let (a, b) = (c.expected_leads(w, cal), c.expected_leads(w + 52, cal));
            // Weeks of the year shift by a day or two against calendar
            // months, so compare activity exactly and volume within a week's
            // seasonal step.
            assert_eq!(a > 0.0, b > 0.0, "{} week {w}", c.name);
            if c.seasonality.is_none() && a > 0.0 {
                assert!((b / a - g).abs() < 1e-9, "{} week {w}: {a} → {b}", c.name);
            }
        }
    }
    // Webinars and trade shows go on in year two (before: they stopped).
    for name in ["webinars", "trade_shows"] {
        let c = &s.model.channels[s.model.channel_index(name).unwrap()];
        let year2: f64 = (52..104).map(|w| c.expected_leads(w, cal)).sum();
        let year1: f64 = (0..52).map(|w| c.expected_leads(w, cal)).sum();
        assert!(
            (year2 / year1 - 1.0).abs() < 0.05,
            "{name}: {year1} → {year2}"
        );
    }
}

// ---------------------------------------------------------------------------
// 9. The plan is the ask.

#[test]
fn the_plan_buys_only_leads_that_pay_back_and_runs_monthly_levels() {
    let s = load(BOARD, &[]);
    let p = plan(&s, &PlanOptions::new()).unwrap();
    let scaled: Vec<&str> = p
        .channels
        .iter()
        .filter(|c| c.scaled)
        .map(|c| c.name.as_str())
        .collect();
    let last = p.last_lead_week.unwrap();
    assert!(last <= p.last_useful_lead_week.unwrap());
    // Before: 1,903 leads bought after the last useful week. Now none.
    let late: f64 = p.weeks[last as usize + 1..]
        .iter()
        .flat_map(|w| scaled.iter().map(|c| w.leads_by_channel[*c]))
        .sum();
    assert_eq!(late, 0.0);
    // One level of scaled leads a week within each month.
    for m in &p.months {
        let weeks = &p.weeks[m.first_week as usize..=m.last_week as usize];
        let levels: Vec<f64> = weeks
            .iter()
            .filter(|w| w.week <= last)
            .map(|w| scaled.iter().map(|c| w.leads_by_channel[*c]).sum())
            .collect();
        if let Some(first) = levels.first() {
            assert!(
                levels
                    .iter()
                    .all(|l| (l - first).abs() <= 1e-6 * first.max(1.0)),
                "{}: {levels:?}",
                m.label
            );
        }
    }
    // The weekly inverse changes level almost every week.
    let exact = plan(
        &s,
        &PlanOptions {
            granularity: revplan::plan::Granularity::Week,
            ..PlanOptions::new()
        },
    )
    .unwrap();
    let changes = |p: &revplan::plan::Plan| {
        p.weeks
            .windows(2)
            .filter(|w| (w[0].volumes.leads - w[1].volumes.leads).abs() > 1e-6)
            .count()
    };
    assert!(changes(&p) < 12 && changes(&exact) > 30);
    let cost = p.granularity_cost.as_ref().unwrap();
    assert!((cost.budget_exact - exact.totals.spend).abs() < 1e-6 * cost.budget_exact);
}

#[test]
fn the_plan_sized_for_a_confidence_reaches_it_as_simulated() {
    let s = load(BOARD, &[]);
    let p = revplan::decide::ask::ask(
        &s,
        &PlanOptions::new(),
        Some(0.8),
        &settings(1024, 3),
        &|_| {},
    )
    .unwrap();
    let sizing = p.sizing.as_ref().unwrap();
    let sim = p.simulated.as_ref().unwrap();
    assert!(sizing.reached);
    assert!(sim.p_hit >= 0.8, "{}", sim.p_hit);
    assert_eq!(sim.trials, 1024, "the plan reported ran every trial");
    assert!(p.aim > 1.0);
    // The search brackets it: a smaller aim missed.
    assert!(
        sizing
            .evaluations
            .iter()
            .any(|e| e.value < p.aim && e.p_hit < 0.8)
    );
    // The plan as it stands, simulated, says how likely it is (before:
    // "short $0" next to a $1.35M gap, and nothing about P(hit)).
    let plain =
        revplan::decide::ask::ask(&s, &PlanOptions::new(), None, &settings(1024, 3), &|_| {})
            .unwrap();
    let sim = plain.simulated.unwrap();
    assert!(sim.p_hit < 0.5);
    let expected = plain.revenue;
    assert!(
        (sim.mean - expected).abs() < 0.05 * expected,
        "simulated {} vs planned {expected}",
        sim.mean
    );
}

// ---------------------------------------------------------------------------
// 10. Smaller defects.

#[test]
fn a_variant_that_is_not_run_does_not_block_a_run() {
    // `two-more-sdrs` sets capacity.hires, which means nothing once the
    // capacity is unlimited: before, the base run exited 2.
    revplan()
        .args([
            "simulate",
            BOARD,
            "--set",
            "capacity=unlimited",
            "--trials",
            "200",
        ])
        .assert()
        .success();
    // Asking for that variant still reports its problem.
    revplan()
        .args([
            "simulate",
            BOARD,
            "--set",
            "capacity=unlimited",
            "--variant",
            "two-more-sdrs",
            "--trials",
            "200",
        ])
        .assert()
        .code(2);
}

#[test]
fn a_sweep_marks_the_first_of_tied_points_best() {
    // 20, 30 or 40 reps: capacity never binds, every point is the same.
    let sw = sweep_of(
        BOARD,
        &[],
        "capacity.reps",
        &["20", "30", "40"],
        Objective::PHit,
    );
    assert_eq!(sw.tied, vec![0, 1, 2]);
    assert_eq!(sw.best, 0);
}

#[test]
fn check_shows_the_models_win_rate_not_the_first_channels() {
    let out = revplan()
        .args([
            "check",
            BOARD,
            "--set",
            "channels.paid_search.deals.win_rate=0.5",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("opportunity"))
        .unwrap();
    assert!(line.contains("win ~24.0%"), "{line}");
    assert!(!line.contains("50.0%"), "{line}");
}

#[test]
fn an_unlimited_team_is_sized_to_the_sla() {
    let s = load(BOARD, &["capacity.reps=unlimited"]);
    let Capacity::Team(t) = &s.model.capacity else {
        panic!("a team")
    };
    assert!(t.unlimited && t.reps_at(30).is_infinite());
    // Paid per touch made: the payroll a week's touches would need.
    assert!((t.cost(30, 160.0) - 1700.0).abs() < 1e-9);
}
