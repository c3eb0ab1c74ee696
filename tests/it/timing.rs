//! Delays as calibration writes them: a log-normal tail spliced onto the
//! observed body, and log-normal parameters drawn once per trial. The lead
//! engine's mean must be the mean of the marginal delay (the mixture of
//! the draws, run as a certain delay), its spread wider than that run's.

use revplan::model::Scenario;
use revplan::run::Trials;
use revplan::sim::{EngineKind, Forecast, RunConfig, simulate};
use revplan::timing::{DRAWS, DelaySpec, Uncertainty};

use crate::support::revplan;

fn model(cycle: &str, sal_delay: &str) -> String {
    format!(
        r#"
name = "timing"
capacity = "unlimited"

[[stages]]
name = "lead"
gate = "score"

[[stages]]
name = "mql"
p = 0.5
delay = 1

[[stages]]
name = "sal"
p = 0.6
delay = {sal_delay}

[[stages]]
name = "opportunity"
gate = "close"

[scoring]
threshold = 50
acceptance = {{ curve = "constant", p = 1 }}

[deals]
win_rate = 0.3
size = 10000
cycle = {cycle}

[channels.only]
volume = {{ leads_per_week = 60 }}
score = 70
"#
    )
}

/// Loads the model as a 26-week scenario from a private folder.
fn scenario(model_text: &str) -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), model_text).unwrap();
    let s = dir.path().join("s.toml");
    std::fs::write(
        &s,
        "name = \"t\"\nmodel = \"m.toml\"\nhorizon_weeks = 26\n[target]\ntotal = 500000\n",
    )
    .unwrap();
    revplan::load::load_scenario(&s, &[])
        .unwrap_or_else(|e| panic!("{}", e.render(false, 100)))
        .base
}

fn forecast(s: &Scenario, trials: u64) -> Forecast {
    let c = RunConfig {
        trials: Trials::Fixed(trials),
        seed: 11,
        max_trials: trials,
        engine: EngineKind::Auto,
        allow_large: false,
    };
    simulate(s, &c, &|_| {}).unwrap()
}

const UNCERTAIN: &str = "{ dist = \"lognormal\", median = 10, sigma = 0.5, \
    uncertainty = { log_median_sd = 0.35, sigma_sd = 0.1, correlation = 0.2 } }";

/// The marginal of [`UNCERTAIN`] written as a certain empirical delay.
fn marginal_as_empirical() -> String {
    let spec = DelaySpec {
        dist: revplan::dist::Dist::lognormal_median(10.0, 0.5).unwrap(),
        tail: None,
        uncertainty: Some(Uncertainty {
            log_median_sd: 0.35,
            sigma_sd: 0.1,
            correlation: 0.2,
        }),
    };
    let (d, draws) = spec.build("deals.cycle").unwrap();
    assert_eq!(draws.unwrap().draws.len(), DRAWS);
    let (w, p): (Vec<String>, Vec<String>) = d
        .iter()
        .map(|(w, p)| (w.to_string(), format!("{p:e}")))
        .unzip();
    format!(
        "{{ dist = \"empirical\", values = [{}], weights = [{}] }}",
        w.join(", "),
        p.join(", ")
    )
}

#[test]
fn an_uncertain_cycle_keeps_the_mean_of_its_marginal_and_widens_the_range() {
    let uncertain = forecast(&scenario(&model(UNCERTAIN, "1")), 4000);
    let marginal = forecast(&scenario(&model(&marginal_as_empirical(), "1")), 4000);
    let point = forecast(
        &scenario(&model(
            "{ dist = \"lognormal\", median = 10, sigma = 0.5 }",
            "1",
        )),
        4000,
    );
    assert_eq!(
        uncertain.engine, "leads",
        "the Poisson-path engine cannot draw delays"
    );
    let (a, b) = (&uncertain.revenue, &marginal.revenue);
    eprintln!(
        "uncertain cycle: mean {:.0} sd {:.0} P10–P90 {:.0}–{:.0}; its marginal as a certain delay: \
         mean {:.0} sd {:.0} P10–P90 {:.0}–{:.0}; point estimate: mean {:.0} sd {:.0}",
        a.mean,
        a.sd,
        a.p10,
        a.p90,
        b.mean,
        b.sd,
        b.p10,
        b.p90,
        point.revenue.mean,
        point.revenue.sd
    );
    let se = (a.std_error.powi(2) + b.std_error.powi(2)).sqrt();
    assert!(
        (a.mean - b.mean).abs() < 4.0 * se,
        "mean {} vs marginal {} (SE {se})",
        a.mean,
        b.mean
    );
    // Trials share arrivals; only the cycle's draw differs. The spread of
    // the sample SD is about SD/√(2n) = 1.1%: a 20% margin is many SEs.
    assert!(a.sd > 1.2 * b.sd, "sd {} vs {}", a.sd, b.sd);
    assert!(a.p90 - a.p10 > 1.2 * (b.p90 - b.p10));
    // The point estimate alone is narrower still, and its mean differs
    // (the marginal has a heavier tail).
    assert!(point.revenue.sd < a.sd);
}

#[test]
fn a_tail_makes_longer_times_possible_and_keeps_the_body() {
    let body = "{ dist = \"empirical\", values = [0, 1, 2], weights = [5, 3, 2] }";
    let tailed = "{ dist = \"empirical\", values = [0, 1, 2], weights = [5, 3, 2], \
        tail = { from = 3, median = 1.2, sigma = 1.0 } }";
    let a = scenario(&model("10", body));
    let b = scenario(&model("10", tailed));
    let (da, db) = (
        &a.model.channels[0].funnel.transitions[2].delay,
        &b.model.channels[0].funnel.transitions[2].delay,
    );
    assert_eq!(da.last(), 2);
    assert!(db.last() > 20, "the tail reaches week {}", db.last());
    let beyond: f64 = db.iter().filter(|(w, _)| *w >= 3).map(|t| t.1).sum();
    assert!(beyond > 0.05 && beyond < 0.3, "{beyond}");
    for w in 0..3 {
        assert!((db.prob(w) - da.prob(w) * (1.0 - beyond)).abs() < 1e-12);
    }
    // Longer waits mean fewer closes inside the horizon.
    let (fa, fb) = (forecast(&a, 2000), forecast(&b, 2000));
    assert!(fb.revenue.mean < fa.revenue.mean);
}

#[test]
fn delays_that_cannot_be_are_refused_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "{ dist = \"empirical\", values = [0, 4], tail = { from = 3, median = 1, sigma = 1 } }",
            "body reaches week 4",
        ),
        (
            "{ dist = \"uniform\", min = 0, max = 3, uncertainty = { log_median_sd = 0.1 } }",
            "needs a log-normal",
        ),
        (
            "{ dist = \"empirical\", values = [0], tail = { from = 1, median = 1, sigma = 1 }, \
             uncertainty = { sigma_sd = 0.1 } }",
            "belongs to the tail",
        ),
        (
            "{ dist = \"lognormal\", median = 3, sigma = 1, uncertainty = { correlation = 2 } }",
            "correlation",
        ),
    ];
    for (delay, says) in cases {
        let p = dir.path().join("m.toml");
        std::fs::write(&p, model("10", delay)).unwrap();
        let out = revplan().args(["check"]).arg(&p).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{delay}: {err}");
        assert!(err.contains(says), "{delay}: {err}");
        assert!(err.contains("m.toml:17"), "{delay}: {err}");
        assert!(err.contains("stages"), "{delay}: {err}");
    }
}

#[test]
fn uncertain_delays_give_the_same_bytes_for_any_thread_count() {
    let s = scenario(&model(UNCERTAIN, "1"));
    let runs: Vec<String> = [1, 3]
        .iter()
        .map(|t| {
            crate::support::with_threads(*t, || serde_json::to_string(&forecast(&s, 3000)).unwrap())
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
}

#[test]
fn the_readmes_delay_examples_load() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).unwrap();
    let line = |key: &str| {
        readme
            .lines()
            .map(str::trim)
            .find(|l| {
                l.starts_with(key) && l.contains("tail = {")
                    || l.starts_with(key) && l.contains("uncertainty")
            })
            .unwrap_or_else(|| panic!("no `{key}` example in the README"))
            .trim_start_matches(key)
            .trim_start_matches(" = ")
            .to_string()
    };
    let s = scenario(&model(&line("cycle"), &line("delay")));
    let f = &s.model.channels[0].funnel;
    assert!(f.transitions[2].delay.last() > 3);
    assert!(f.transitions[f.close_stage()].draws.is_some());
}
