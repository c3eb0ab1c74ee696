//! The expected flow (absorbing chain) against hand-worked funnels.

use revplan::flow::channel_conversion;

use crate::support::{Parts, funnel, model};

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol, "{a} vs {b}");
}

fn conversion(parts: Parts) -> revplan::flow::ChannelConversion {
    let m = model(&funnel(&parts)).model;
    channel_conversion(&m, 0, &m.param_means())
}

#[test]
fn straight_funnel_is_a_product_of_rates_and_a_sum_of_delays() {
    let c = conversion(Parts::default());
    // Score 70 ≥ 60: every lead is an MQL; then 0.5 · 0.6 · 0.7 · 0.25.
    let expected = [1.0, 1.0, 0.5, 0.3, 0.21];
    for (r, e) in c.reach.iter().zip(expected) {
        close(*r, e, 1e-12);
    }
    close(c.won, 0.0525, 1e-12);
    // 1 (mql) + 2 (sal) + 1 (sql) + 10 (cycle) weeks.
    close(c.lag_weeks.unwrap(), 14.0, 1e-9);
}

#[test]
fn a_recycle_loop_is_a_geometric_series() {
    let c = conversion(Parts {
        mql_extra: r#"recycle = [{ to = "mql", p = 0.4, delay = 8 }]"#,
        ..Parts::default()
    });
    // Each pass: accepted 0.5, else back with 0.4: P(SAL) = 0.5 / (1 − 0.5·0.4).
    close(c.reach[2], 0.5 / 0.8, 1e-12);
    close(c.visits[1], 1.0 / 0.8, 1e-12);
    close(c.won, 0.625 * 0.6 * 0.7 * 0.25, 1e-12);
    // Given acceptance, the number of rejections K has P(K = k) ∝ 0.2^k, so
    // E[K] = 0.2/0.8 = 0.25 extra passes of 1 + 8 weeks.
    close(c.lag_weeks.unwrap(), 14.0 + 0.25 * 9.0, 1e-9);
}

#[test]
fn slipping_delays_wins_without_changing_them() {
    let c = conversion(Parts {
        deals_extra: "slip = { p = 0.2, delay = 3 }",
        ..Parts::default()
    });
    close(c.won, 0.0525, 1e-12);
    // Expected slips s/(1 − s) = 0.25, 3 weeks each.
    close(c.lag_weeks.unwrap(), 14.0 + 0.25 * 3.0, 1e-9);
}

#[test]
fn lost_deals_recycled_to_mql_win_later() {
    let c = conversion(Parts {
        opp_extra: r#"recycle = [{ to = "mql", p = 0.5, delay = 10 }]"#,
        ..Parts::default()
    });
    // The loop MQL → … → lost → MQL has probability 0.5·0.6·0.7·0.75·0.5.
    let back = 0.5 * 0.6 * 0.7 * 0.75 * 0.5;
    close(c.won, 0.0525 / (1.0 - back), 1e-12);
    close(c.visits[1], 1.0 / (1.0 - back), 1e-12);
}

#[test]
fn nurture_lifts_scores_over_the_threshold() {
    let c = conversion(Parts {
        scoring_extra: "nurture = { weeks = 4, p_engage = 0.5, lift = 5 }",
        score: "50",
        ..Parts::default()
    });
    // Two engagements (+10) are needed within 4 weeks: the second comes in
    // week 2, 3 or 4 with probability 1/4, 1/4, 3/16.
    let p_mql = 0.25 + 0.25 + 3.0 / 16.0;
    close(c.reach[1], p_mql, 1e-12);
    close(c.won, p_mql * 0.0525, 1e-12);
    let mean_wait = (2.0 * 0.25 + 3.0 * 0.25 + 4.0 * 3.0 / 16.0) / p_mql;
    close(c.lag_weeks.unwrap(), 14.0 + mean_wait, 1e-9);
}

#[test]
fn leads_under_the_threshold_without_nurture_never_convert() {
    let c = conversion(Parts {
        score: "50",
        ..Parts::default()
    });
    close(c.reach[1], 0.0, 0.0);
    assert_eq!(c.lag_weeks, None);
}

#[test]
fn spread_delays_enter_the_lag_by_their_mean() {
    // A cycle of 9 or 11 weeks, equally likely, has mean 10: same lag.
    let c = conversion(Parts {
        deals_extra: "",
        ..Parts::default()
    });
    let m = model(&funnel(&Parts::default()).replace(
        "cycle = 10",
        r#"cycle = { dist = "empirical", values = [9, 11] }"#,
    ))
    .model;
    let spread = channel_conversion(&m, 0, &m.param_means());
    close(spread.lag_weeks.unwrap(), c.lag_weeks.unwrap(), 1e-9);
}

#[test]
fn logistic_acceptance_matches_a_direct_integral() {
    // Score ~ Normal(70, 5) clipped to [0, 100]; threshold 60; acceptance
    // 0.9/(1+exp(−(s−60)/10)). P(SAL) = ∫_{60}^{100} f(s) a(s) ds, by a fine
    // midpoint rule here, against the banded chain.
    let text = funnel(&Parts {
        score: r#"{ dist = "normal", mean = 70, sd = 5 }"#,
        ..Parts::default()
    })
    .replace(
        r#"acceptance = { curve = "constant", p = 0.5 }"#,
        r#"acceptance = { curve = "logistic", max = 0.9, midpoint = 60, scale = 10 }"#,
    );
    let m = model(&text).model;
    let c = channel_conversion(&m, 0, &m.param_means());
    let n = 200_000;
    let (a, b) = (60.0, 100.0);
    let h = (b - a) / n as f64;
    let pdf = |s: f64| {
        (-(s - 70.0_f64).powi(2) / 50.0).exp() / (5.0 * (2.0 * std::f64::consts::PI).sqrt())
    };
    let acc = |s: f64| 0.9 / (1.0 + (-(s - 60.0) / 10.0_f64).exp());
    let integral: f64 = (0..n)
        .map(|i| a + h * (i as f64 + 0.5))
        .map(|s| pdf(s) * acc(s) * h)
        .sum();
    // Band midpoints are within 0.125 points of any score in the band.
    close(c.reach[2], integral, 2e-5);
}
