//! Scenarios over models: overlays, variants, command-line overrides,
//! targets, the channel mix, per-channel parameters and the pipeline CSV.

use revplan::model::{Advance, Capacity, MixBasis};

use crate::support::scenario;

const BASE: &str = r#"
name = "plan"
model = "small.toml"
horizon_weeks = 26
[target]
total = 1_000_000
"#;

fn with(extra: &str) -> String {
    format!("{BASE}\n{extra}")
}

#[test]
fn a_scenario_overrides_model_keys_by_merging() {
    let l = scenario(
        &with("[scoring]\nthreshold = 65\n[channels.events]\ncost_per_lead = 120\n"),
        &[],
    );
    let m = &l.base.model;
    assert_eq!(m.scoring.threshold, 65.0);
    let events = &m.channels[m.channel_index("events").unwrap()];
    assert_eq!(events.cost_per_lead, 120.0);
    // Untouched keys keep the model's values.
    assert_eq!(events.active_weeks, Some(vec![(5, 10), (30, 40)]));
    assert!(matches!(m.capacity, Capacity::Team(_)));
    assert_eq!(l.model_name, "small");
    assert_eq!(l.base.name, "plan");
}

#[test]
fn variants_change_only_what_they_set_and_build_on_command_line_overrides() {
    let text = with(
        "[[variants]]\nname = \"bar\"\nset.scoring.threshold = 70\n\n[[variants]]\nname = \"cheap\"\nset.channels.events.cost_per_lead = 50\n",
    );
    let l = scenario(&text, &["channels.events.volume.leads_per_week=40"]);
    assert_eq!(l.variants.len(), 2);
    assert_eq!(l.base.model.scoring.threshold, 60.0);
    let bar = &l.variants[0].scenario.model;
    assert_eq!(bar.scoring.threshold, 70.0);
    let events = |m: &revplan::model::Model| m.channels[m.channel_index("events").unwrap()].clone();
    assert_eq!(events(bar).cost_per_lead, 100.0);
    assert_eq!(events(&l.variants[1].scenario.model).cost_per_lead, 50.0);
    // The command-line override reaches the base and every variant.
    for m in [&l.base.model, bar, &l.variants[1].scenario.model] {
        assert_eq!(events(m).base_leads_per_week(), 40.0);
    }
}

#[test]
fn an_inline_table_replaces_and_dotted_keys_merge() {
    let l = scenario(
        &with("[deals]\nsize = { dist = \"fixed\", value = 5000 }\n"),
        &[],
    );
    assert_eq!(l.base.model.channels[0].funnel.deal_size.mean(), 5000.0);
    let l = scenario(BASE, &["deals.size.median=40000"]);
    let mean = l.base.model.channels[0].funnel.deal_size.mean();
    assert!((mean - 40000.0 * (0.18f64).exp()).abs() < 1e-6, "{mean}");
}

#[test]
fn annual_targets_follow_calendar_quarters_and_shares() {
    let text = r#"
name = "plan"
model = "small.toml"
horizon_weeks = 52
start_date = 2027-01-04
[target]
annual = 4_000_000
shares = [0.1, 0.2, 0.3, 0.4]
"#;
    let s = scenario(text, &[]).base;
    assert_eq!(s.target.periods.len(), 4);
    let expected = [400_000.0, 800_000.0, 1_200_000.0, 1_600_000.0];
    for (got, want) in s.target.periods.iter().zip(expected) {
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
    let weekly_sum: f64 = s.target.weekly.iter().sum();
    assert!((weekly_sum - 4_000_000.0).abs() < 1e-6);
    // Weekly targets follow a smooth curve through the quarter totals.
    let q1: f64 = s.target.weekly[..13].iter().sum();
    assert!((q1 - 400_000.0).abs() < 1e-6);
    let biggest_step = s
        .target
        .weekly
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f64::max);
    assert!(
        biggest_step < 0.5 * (1_600_000.0 - 1_200_000.0) / 13.0,
        "{biggest_step}"
    );
}

#[test]
fn a_horizon_that_cuts_a_period_prorates_its_target() {
    let text =
        "name = \"p\"\nmodel = \"small.toml\"\nhorizon_weeks = 20\n[target]\nannual = 5_200_000\n";
    let s = scenario(text, &[]).base;
    assert!(
        (s.target.total - 2_000_000.0).abs() < 1e-6,
        "{}",
        s.target.total
    );
    assert!(
        (s.target.periods[1] - 700_000.0).abs() < 1e-6,
        "{:?}",
        s.target.periods
    );
}

#[test]
fn the_default_mix_scales_marketing_channels_by_volume() {
    let s = scenario(BASE, &[]).base;
    assert_eq!(s.mix.basis, MixBasis::Leads);
    // Average weekly volume over the 26 weeks: events run in weeks 5–10 and
    // 30–40, so 6 of the 26.
    let search = s.model.channels[0].base_leads_per_week();
    let events = 30.0 * 6.0 / 26.0;
    let shares: Vec<f64> = s.mix.shares.iter().map(|x| x.unwrap()).collect();
    assert!(
        (shares[0] - search / (search + events)).abs() < 1e-12,
        "{shares:?}"
    );
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    let s = scenario(
        &with("[mix]\nbasis = \"budget\"\nshares = { search = 1.0 }\n"),
        &[],
    )
    .base;
    assert_eq!(s.mix.shares, vec![Some(1.0), None]);
    assert_eq!(s.mix.basis, MixBasis::Budget);
}

#[test]
fn channels_share_inherited_parameters_and_own_their_overrides() {
    let l = scenario(
        &with("[channels.events.stages.sal]\np = 0.9\n[channels.events.deals]\nwin_rate = 0.5\n"),
        &[],
    );
    let m = &l.base.model;
    let rate = |c: usize, stage: usize| match m.channels[c].funnel.transitions[stage].advance {
        Advance::Rate(p) | Advance::Win(p) => p,
        _ => unreachable!(),
    };
    // sql's rate is inherited: one parameter, so one draw per trial for both.
    assert_eq!(rate(0, 3), rate(1, 3));
    assert_ne!(rate(0, 2), rate(1, 2));
    assert_eq!(m.params[rate(1, 2)].prob.mean(), 0.9);
    assert_eq!(m.params[rate(1, 2)].key, "channels.events.stages.sal.p");
    assert_eq!(m.params[rate(1, 4)].prob.mean(), 0.5);
    assert_eq!(m.params[rate(0, 4)].prob.mean(), 0.25);
    // The deal size is inherited.
    assert_eq!(
        m.channels[1].funnel.deal_size,
        m.channels[0].funnel.deal_size
    );
}

#[test]
fn pipeline_csv_rows_add_to_inline_deals() {
    let l = scenario(&with("[pipeline]\ncsv = \"pipeline.csv\"\n"), &[]);
    let p = &l.base.model.pipeline;
    assert_eq!(p.len(), 4, "{p:?}");
    let a1 = p.iter().find(|d| d.id.as_deref() == Some("A-1")).unwrap();
    assert_eq!(
        (a1.stage, a1.amount, a1.age_weeks, a1.channel),
        (4, 30000.0, 2, Some(0))
    );
    let a2 = p.iter().find(|d| d.id.as_deref() == Some("A-2")).unwrap();
    assert_eq!((a2.stage, a2.channel), (2, None));
    assert!(l.inputs.iter().any(|i| i.ends_with("pipeline.csv")));
}

#[test]
fn sales_capacity_ramps_hires_and_loses_departures() {
    let l = scenario(
        &with("[capacity]\ndepartures = [{ week = 20, count = 1 }]\n"),
        &[],
    );
    let Capacity::Team(t) = &l.base.model.capacity else {
        panic!()
    };
    // 2 reps, one hire in week 10 ramping over 4 weeks, one leaving in week 20.
    assert_eq!(t.reps_at(0), 2.0);
    assert_eq!(t.reps_at(10), 2.25);
    assert_eq!(t.reps_at(13), 3.0);
    assert_eq!(t.reps_at(20), 2.0);
    assert_eq!(t.touches_at(13), 300.0);
    assert_eq!(t.sla_touches(80.0), 5.0);
    assert_eq!(t.sla_touches(61.0), 2.0);
}

#[test]
fn fiscal_quarters_take_the_shares_in_fiscal_order() {
    let text = r#"
name = "plan"
model = "small.toml"
horizon_weeks = 52
start_date = 2027-02-01
fiscal_year_start = 2
[target]
annual = 4_000_000
shares = [0.1, 0.2, 0.3, 0.4]
"#;
    let s = scenario(text, &[]).base;
    let labels: Vec<String> = s
        .calendar
        .periods(s.target.period)
        .into_iter()
        .map(|p| p.label)
        .collect();
    assert_eq!(labels, ["FY2028-Q1", "FY2028-Q2", "FY2028-Q3", "FY2028-Q4"]);
    assert!(
        (s.target.periods[0] - 400_000.0).abs() < 1e-6,
        "{:?}",
        s.target.periods
    );
    // The last fiscal quarter (Nov–Jan) has 14 Mondays on this grid; the
    // horizon holds 13 of them.
    assert!((s.target.periods[3] - 1_600_000.0 * 13.0 / 14.0).abs() < 1e-6);
}
