//! One definition of each figure derived from counts and money — the lead
//! acceptance rate, conversion, cost per lead, CAC, ROI, contribution,
//! pipeline coverage — used by `plan`, `simulate`, the decision commands
//! and the board report alike, so that no two of them can disagree on what
//! a figure means.
//!
//! The counts they take are always those of one population: the new leads
//! of the horizon (a cohort), counted as first entries into each stage.
//! Deals and leads already open at the start are their own line and never
//! enter a source's figures.

/// `a / b`, or `None` when `b` is not positive.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// Lead acceptance rate: SALs per MQL of the same leads (first entries:
/// an MQL recycled and accepted later counts once in each).
pub fn acceptance_rate(sals: f64, mqls: f64) -> Option<f64> {
    ratio(sals, mqls)
}

/// Conversion from one stage to a later one: later-stage entries per
/// earlier-stage entry of the same leads.
pub fn conversion(to: f64, from: f64) -> Option<f64> {
    ratio(to, from)
}

/// Cost per lead: marketing spend per lead.
pub fn cost_per_lead(spend: f64, leads: f64) -> Option<f64> {
    ratio(spend, leads)
}

/// Customer acquisition cost: a cost (marketing spend, or marketing and
/// sales: fully loaded) per win of the new leads.
pub fn cac(cost: f64, wins: f64) -> Option<f64> {
    ratio(cost, wins)
}

/// Return on a cost: (revenue − cost) / cost.
pub fn roi(revenue: f64, cost: f64) -> Option<f64> {
    ratio(revenue - cost, cost)
}

/// Contribution: revenue less marketing spend and the sales team's cost.
pub fn contribution(revenue: f64, marketing: f64, sales: f64) -> f64 {
    revenue - marketing - sales
}

/// Pipeline coverage: open pipeline value (plus new opportunities' value)
/// per dollar of target.
pub fn coverage(pipeline_value: f64, target: f64) -> Option<f64> {
    ratio(pipeline_value, target)
}

/// The glossary printed in the README and by `--help`: one line each.
pub const DEFINITIONS: &[(&str, &str)] = &[
    (
        "lead acceptance rate",
        "SALs / MQLs of the new leads of the horizon (first entries, inside the horizon)",
    ),
    (
        "conversion",
        "entries into a stage / entries into the stage before, same leads",
    ),
    ("cost per lead", "marketing spend / leads"),
    (
        "CAC",
        "(marketing spend + sales cost) / wins of the new leads inside the horizon (fully loaded)",
    ),
    (
        "marketing CAC",
        "marketing spend / wins of the new leads inside the horizon",
    ),
    (
        "ROI",
        "(revenue of a source's new leads − its spend) / its spend; the open pipeline is apart",
    ),
    (
        "eventual ROI",
        "the same with the revenue those leads bring inside the horizon or after it",
    ),
    (
        "contribution",
        "revenue inside the horizon − marketing spend − sales cost",
    ),
    (
        "pipeline coverage",
        "(open pipeline + value of new opportunities) / target",
    ),
    (
        "P(hit) of the target",
        "the share of trials that reach it, controlled for the uncertain rates each trial drew and, on the lead and cohort engines, for the luck of its deals (variables whose means are known; see `src/sim/control.rs`); a period's or a week's P(hit) is the plain share",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_refuse_an_empty_base() {
        assert_eq!(acceptance_rate(42.0, 100.0), Some(0.42));
        assert_eq!(acceptance_rate(1.0, 0.0), None);
        assert_eq!(roi(300.0, 100.0), Some(2.0));
        assert_eq!(cac(1000.0, 4.0), Some(250.0));
        assert_eq!(contribution(10.0, 3.0, 2.0), 5.0);
    }
}
