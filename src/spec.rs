//! The file formats: types that mirror model and scenario files key by key.
//!
//! These types are what a file *says*, checked value by value (types, ranges,
//! distributions built and validated) but not yet against each other; the
//! [`crate::model`] module cross-checks them and builds the model the rest of
//! the program uses. Each `fields` function below is the single description
//! of a table: it reads files and produces `revplan schema`.
//!
//! A scenario file is an overlay on its model: any model key may appear in
//! it and replaces or merges into the model's (see [`crate::tree::merge`]).
//! So the scenario reader reads scenario keys and model keys from one table.

use jiff::civil::Date;
use serde_json::{Value as Json, json};

use crate::dist::{Dist, DistError, Prob};
use crate::read::{
    Arm, Bounds, Cx, Fields, Finite, Loc, Named, NonNeg, Read, ReadTable, SchemaGen, Spanned, Unit,
    Week, mismatch, read_number,
};
use crate::timing::{DelaySpec, Tail, Uncertainty};
use crate::tree::{Node, Value};

/// Largest count of most things a file can list (channels, stages, …) is
/// checked in [`crate::model`]; these bound single numbers.
pub const MAX_LEADS_PER_WEEK: f64 = 1e7;
pub const MAX_MONEY: f64 = 1e13;
pub const MAX_REPS: i64 = 100_000;
pub const MAX_TRIALS: i64 = 100_000_000;
/// Largest seasonality factor (a period 100× as busy as average).
pub const MAX_SEASONAL_FACTOR: f64 = 100.0;

// ---------------------------------------------------------------------------
// Distributions and probabilities

/// Reports a [`DistError`] at the table being read.
fn built(f: &mut Fields<'_, '_>, r: Option<Result<Dist, DistError>>) -> Option<Dist> {
    match r? {
        Ok(d) => Some(d),
        Err(e) => {
            f.problem(None, e.to_string(), None);
            None
        }
    }
}

/// `{ dist = "...", ... }`: a distribution written as a table.
struct DistTable(Dist);

const DIST_ARMS: &[Arm<Result<Dist, DistError>>] = &[
    Arm {
        tag: "fixed",
        about: "always `value`",
        read: |f| {
            f.req_num("value", "the value", Bounds::FINITE)
                .map(Dist::fixed)
        },
    },
    Arm {
        tag: "uniform",
        about: "uniform between `min` and `max`",
        read: |f| {
            let min = f.req_num("min", "smallest value", Bounds::FINITE);
            let max = f.req_num("max", "largest value", Bounds::FINITE);
            Some(Dist::uniform(min?, max?))
        },
    },
    Arm {
        tag: "normal",
        about: "normal with `mean` and standard deviation `sd`",
        read: |f| {
            let mean = f.req_num("mean", "the mean", Bounds::FINITE);
            let sd = f.req_num("sd", "the standard deviation", Bounds::POSITIVE);
            Some(Dist::normal(mean?, sd?))
        },
    },
    Arm {
        tag: "lognormal",
        about: "log-normal: give `sigma` (the standard deviation of the logarithm, the spread) and one of `median`, `mean` or `mu`",
        read: |f| {
            let median = f.opt_num("median", "the median (P50)", Bounds::POSITIVE);
            let mean = f.opt_num("mean", "the mean", Bounds::POSITIVE);
            let mu = f.opt_num("mu", "the mean of the logarithm", Bounds::FINITE);
            let sigma = f.req_num(
                "sigma",
                "standard deviation of the logarithm (0.5 means P84/P50 = e^0.5 = 1.65)",
                Bounds::POSITIVE,
            );
            let (median, mean, mu, sigma) = (median?, mean?, mu?, sigma?);
            match (median, mean, mu) {
                (Some(m), None, None) => Some(Dist::lognormal_median(m, sigma)),
                (None, Some(m), None) => Some(Dist::lognormal_mean(m, sigma)),
                (None, None, Some(m)) => Some(Dist::lognormal(m, sigma)),
                _ => {
                    f.problem(
                        None,
                        "a log-normal needs exactly one of `median`, `mean` or `mu`",
                        Some("e.g. { dist = \"lognormal\", median = 10, sigma = 0.5 }".into()),
                    );
                    None
                }
            }
        },
    },
    Arm {
        tag: "gamma",
        about: "gamma: `shape` and `scale`, or `mean` and `sd`",
        read: |f| {
            let shape = f.opt_num("shape", "shape k", Bounds::POSITIVE);
            let scale = f.opt_num("scale", "scale θ (mean = k·θ)", Bounds::POSITIVE);
            let mean = f.opt_num("mean", "the mean", Bounds::POSITIVE);
            let sd = f.opt_num("sd", "the standard deviation", Bounds::POSITIVE);
            match (shape?, scale?, mean?, sd?) {
                (Some(k), Some(t), None, None) => Some(Dist::gamma(k, t)),
                (None, None, Some(m), Some(s)) => Some(Dist::gamma_mean_sd(m, s)),
                _ => {
                    f.problem(
                        None,
                        "a gamma needs `shape` and `scale`, or `mean` and `sd`",
                        None,
                    );
                    None
                }
            }
        },
    },
    Arm {
        tag: "beta",
        about: "beta on [0, 1] with `alpha` and `beta`",
        read: |f| {
            let a = f.req_num("alpha", "α > 0 (mean = α/(α+β))", Bounds::POSITIVE);
            let b = f.req_num("beta", "β > 0", Bounds::POSITIVE);
            Some(Dist::beta(a?, b?))
        },
    },
    Arm {
        tag: "triangular",
        about: "triangular with `min`, `mode`, `max`",
        read: |f| {
            let (min, mode, max) = three_points(f);
            Some(Dist::triangular(min?, mode?, max?))
        },
    },
    Arm {
        tag: "pert",
        about: "PERT (a smooth three-point estimate) with `min`, `mode`, `max`",
        read: |f| {
            let (min, mode, max) = three_points(f);
            Some(Dist::pert(min?, mode?, max?))
        },
    },
    Arm {
        tag: "empirical",
        about: "observed `values`, with optional `weights` (default: equal)",
        read: |f| {
            let values = f.req::<Vec<Finite>>("values", "the observed values");
            let weights = f.opt::<Vec<NonNeg>>("weights", "one weight per value");
            let values: Vec<f64> = values?.into_iter().map(|v| v.0).collect();
            let weights: Option<Vec<f64>> = weights?.map(|w| w.into_iter().map(|v| v.0).collect());
            if values.len() > 100_000 {
                f.problem(Some("values"), "at most 100000 values", None);
                return None;
            }
            Some(Dist::empirical(&values, weights.as_deref()))
        },
    },
];

fn three_points(f: &mut Fields<'_, '_>) -> (Option<f64>, Option<f64>, Option<f64>) {
    let min = f.req_num("min", "smallest value", Bounds::FINITE);
    let mode = f.req_num("mode", "most likely value", Bounds::FINITE);
    let max = f.req_num("max", "largest value", Bounds::FINITE);
    (min, mode, max)
}

impl ReadTable for DistTable {
    const NAME: &'static str = "Distribution";
    const ABOUT: &'static str =
        "a distribution: `dist` names the family; `at_least`/`at_most` clamp draws";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let shape = f.tagged(
            "dist",
            "the family: fixed, uniform, normal, lognormal, gamma, beta, triangular, pert, empirical",
            DIST_ARMS,
        );
        let lo = f.opt_num(
            "at_least",
            "draws below this are raised to it",
            Bounds::FINITE,
        );
        let hi = f.opt_num(
            "at_most",
            "draws above this are lowered to it",
            Bounds::FINITE,
        );
        let shape = built(f, shape)?;
        let (lo, hi) = (lo?, hi?);
        let r = shape.clamped(lo.unwrap_or(f64::NEG_INFINITY), hi.unwrap_or(f64::INFINITY));
        built(f, Some(r)).map(DistTable)
    }
}

/// A distribution: a bare number (fixed) or a `{ dist = ... }` table.
impl Read for Dist {
    fn schema(g: &mut SchemaGen) -> Json {
        json!({"anyOf": [{"type": "number"}, g.table::<DistTable>()]})
    }

    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        match &node.value {
            Value::Int(_) | Value::Float(_) => {
                read_number(node, path, cx, Bounds::FINITE).and_then(|v| Dist::fixed(v).ok())
            }
            Value::Table(_) => DistTable::read(node, path, cx).map(|d| d.0),
            _ => {
                cx.push(mismatch(
                    node,
                    path,
                    "a number or a distribution such as { dist = \"normal\", mean = 10, sd = 2 }",
                ));
                None
            }
        }
    }
}

/// `{ log_median_sd, sigma_sd, correlation }`: how well a log-normal's
/// parameters are known.
struct UncertaintyTable(Uncertainty);

impl ReadTable for UncertaintyTable {
    const NAME: &'static str = "LogNormalUncertainty";
    const ABOUT: &'static str = "standard errors of a log-normal's parameters, drawn once per \
        simulated trial: of ln(median), of sigma, and their correlation";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let m = f.opt_num(
            "log_median_sd",
            "standard error of ln(median) (0.1: the median known to about ±10%)",
            Bounds::NON_NEG,
        );
        let s = f.opt_num("sigma_sd", "standard error of sigma", Bounds::NON_NEG);
        let r = f.opt_num(
            "correlation",
            "correlation of the two estimates (default 0)",
            Bounds::closed(-1.0, 1.0),
        );
        Some(UncertaintyTable(Uncertainty {
            log_median_sd: m?.unwrap_or(0.0),
            sigma_sd: s?.unwrap_or(0.0),
            correlation: r?.unwrap_or(0.0),
        }))
    }
}

/// `{ from, median, sigma }`: a log-normal tail spliced onto a delay.
struct TailTable(Tail, Option<Uncertainty>);

impl ReadTable for TailTable {
    const NAME: &'static str = "DelayTail";
    const ABOUT: &'static str = "a log-normal tail: from week `from` on the delay follows the \
        log-normal (median, sigma) given it is that long, with probability `weight` (default: \
        the log-normal's own); the weeks before share the rest as the body says";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let from = f.req_int(
            "from",
            "the first week the tail covers (after the body's last)",
            1,
            crate::dist::MAX_DELAY_WEEKS as i64,
        );
        let weight = f.opt_num(
            "weight",
            "the probability of `from` weeks or more (default: the log-normal's own)",
            Bounds::closed(0.0, 1.0),
        );
        let median = f.req_num(
            "median",
            "the log-normal's median, in weeks",
            Bounds::POSITIVE,
        );
        let sigma = f.req_num("sigma", "the log-normal's sigma", Bounds::POSITIVE);
        let u = f.opt::<UncertaintyTable>("uncertainty", "the standard errors of median and sigma");
        Some(TailTable(
            Tail {
                from: from? as u32,
                weight: weight?,
                median: median?,
                sigma: sigma?,
            },
            u?.map(|u| u.0),
        ))
    }
}

/// A delay: a distribution, with optionally a fitted tail and the
/// uncertainty of its log-normal.
struct DelayTable(DelaySpec);

impl ReadTable for DelayTable {
    const NAME: &'static str = "Delay";
    const ABOUT: &'static str = "a delay in weeks: a distribution (`dist` names the family), \
        with optionally a log-normal `tail` and the `uncertainty` of a log-normal's parameters";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let dist = DistTable::fields(f);
        let tail = f.opt::<TailTable>("tail", "a log-normal tail after the observed body");
        let u = f.opt::<UncertaintyTable>(
            "uncertainty",
            "the standard errors of a log-normal delay's median and sigma (for a delay with a \
             tail, give them in the tail)",
        );
        let (dist, tail, u) = (dist?.0, tail?, u?);
        if tail.is_some() && u.is_some() {
            f.problem(
                Some("uncertainty"),
                "with a `tail`, the uncertainty belongs to the tail",
                Some("move it into `tail = { ..., uncertainty = { ... } }`".into()),
            );
            return None;
        }
        let spec = DelaySpec {
            dist,
            uncertainty: u.map(|u| u.0).or(tail.as_ref().and_then(|t| t.1)),
            tail: tail.map(|t| t.0),
        };
        if let Err(e) = spec.validate() {
            f.problem(None, e.to_string(), None);
            return None;
        }
        Some(DelayTable(spec))
    }
}

/// A delay: a bare number of weeks, or a table.
impl Read for DelaySpec {
    fn schema(g: &mut SchemaGen) -> Json {
        json!({"anyOf": [{"type": "number"}, g.table::<DelayTable>()]})
    }

    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        match &node.value {
            Value::Table(_) => DelayTable::read(node, path, cx).map(|d| d.0),
            _ => Dist::read(node, path, cx).map(DelaySpec::plain),
        }
    }
}

/// `{ alpha = .., beta = .. }` or `{ successes = .., trials = .. }`.
struct UncertainProb(Prob);

impl ReadTable for UncertainProb {
    const NAME: &'static str = "UncertainProbability";
    const ABOUT: &'static str = "an uncertain probability, drawn once per simulated trial: \
        `alpha` and `beta` of a Beta distribution, or observed `successes` out of `trials` \
        (a Beta(1 + successes, 1 + trials − successes))";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let _tag = f.opt_choice("dist", "optional: \"beta\"", &["beta"]);
        let a = f.opt_num("alpha", "α of the Beta (mean = α/(α+β))", Bounds::POSITIVE);
        let b = f.opt_num("beta", "β of the Beta", Bounds::POSITIVE);
        let s = f.opt_int("successes", "observed successes", 0, i64::MAX);
        let n = f.opt_int("trials", "observed trials", 0, i64::MAX);
        let r = match (a?, b?, s?, n?) {
            (Some(a), Some(b), None, None) => Prob::beta(a, b),
            (None, None, Some(s), Some(n)) => Prob::from_counts(s as u64, n as u64),
            _ => {
                f.problem(
                    None,
                    "give `alpha` and `beta`, or `successes` and `trials`",
                    Some(
                        "e.g. { alpha = 30, beta = 90 } or { successes = 30, trials = 120 }".into(),
                    ),
                );
                return None;
            }
        };
        match r {
            Ok(p) => Some(UncertainProb(p)),
            Err(e) => {
                f.problem(None, e.to_string(), None);
                None
            }
        }
    }
}

/// A probability: a number in [0, 1] or an uncertain one.
impl Read for Prob {
    fn schema(g: &mut SchemaGen) -> Json {
        json!({"anyOf": [
            {"type": "number", "minimum": 0, "maximum": 1},
            g.table::<UncertainProb>()
        ]})
    }

    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        match &node.value {
            Value::Int(_) | Value::Float(_) => {
                read_number(node, path, cx, Bounds::UNIT).and_then(|p| Prob::fixed(p).ok())
            }
            Value::Table(_) => UncertainProb::read(node, path, cx).map(|p| p.0),
            _ => {
                cx.push(mismatch(
                    node,
                    path,
                    "a probability from 0 to 1, or { alpha = .., beta = .. }, or { successes = .., trials = .. }",
                ));
                None
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Model

/// A model file: one company's revenue cycle.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub name: String,
    pub description: Option<String>,
    pub stages: Spanned<Vec<StageSpec>>,
    pub scoring: ScoringSpec,
    pub capacity: Spanned<CapacitySpec>,
    pub deals: DealsSpec,
    pub channels: Spanned<Named<ChannelSpec>>,
    pub pipeline: Option<PipelineSpec>,
}

impl ReadTable for ModelSpec {
    const NAME: &'static str = "Model";
    const ABOUT: &'static str =
        "a revenue-cycle model: stages, scoring, capacity, deals, channels, open pipeline";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let name = f.req::<String>("name", "the model's name");
        let description = f.opt::<String>("description", "what the model describes");
        let model = model_fields(f);
        Some(ModelSpec {
            name: name?,
            description: description?,
            ..model?
        })
    }
}

/// The model's keys other than `name` and `description`, shared by model
/// files and scenario files (where they are overrides).
fn model_fields(f: &mut Fields<'_, '_>) -> Option<ModelSpec> {
    let stages = f.req::<Spanned<Vec<StageSpec>>>(
        "stages",
        "the stages in order, from lead to opportunity; each says how a lead leaves it",
    );
    let scoring = f.req::<ScoringSpec>(
        "scoring",
        "lead scoring: MQL threshold, acceptance curve, nurture",
    );
    let capacity = f.req::<Spanned<CapacitySpec>>(
        "capacity",
        "sales follow-up capacity: a [capacity] table, or \"unlimited\"",
    );
    let deals = f.req::<DealsSpec>("deals", "win rate, deal size, sales cycle and slip");
    let channels = f.req::<Spanned<Named<ChannelSpec>>>(
        "channels",
        "lead sources, one table per channel: [channels.<name>]",
    );
    let pipeline = f.opt::<PipelineSpec>("pipeline", "opportunities already open at the start");
    Some(ModelSpec {
        name: String::new(),
        description: None,
        stages: stages?,
        scoring: scoring?,
        capacity: capacity?,
        deals: deals?,
        channels: channels?,
        pipeline: pipeline?,
    })
}

/// How leads leave a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateKind {
    /// Advance with probability `p`.
    Rate,
    /// Advance iff score ≥ the MQL threshold (nurture may lift the score).
    Score,
    /// Sales accepts by the score-dependent curve, thinned by capacity.
    Acceptance,
    /// The deal closes: won with the win rate after the sales cycle.
    Close,
}

pub const GATES: &[&str] = &["rate", "score", "acceptance", "close"];
pub const ROLES: &[&str] = &["lead", "mql", "sal", "sql", "opportunity"];

#[derive(Debug, Clone)]
pub struct StageSpec {
    pub loc: Loc,
    pub name: Spanned<String>,
    pub role: Option<Spanned<&'static str>>,
    pub gate: Spanned<GateKind>,
    pub p: Option<Spanned<Prob>>,
    pub delay: Option<Spanned<DelaySpec>>,
    pub recycle: Option<Vec<RecycleSpec>>,
}

fn gate_kind(s: &str) -> GateKind {
    match s {
        "score" => GateKind::Score,
        "acceptance" => GateKind::Acceptance,
        "close" => GateKind::Close,
        _ => GateKind::Rate,
    }
}

impl ReadTable for StageSpec {
    const NAME: &'static str = "Stage";
    const ABOUT: &'static str = "a stage of the revenue cycle and how leads leave it: \
        after `delay` weeks a lead advances to the next stage (by its gate), \
        is recycled to an earlier stage, or drops out";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let name = f.req::<Spanned<String>>("name", "the stage's name");
        let role = f.opt_choice(
            "role",
            "which standard stage this is, for reports (default: the name, if it is one of lead, mql, sal, sql, opportunity)",
            ROLES,
        );
        let gate = f.opt_choice(
            "gate",
            "how a lead advances: \"rate\" (probability `p`, the default), \"score\" (MQL threshold; first stage), \
             \"acceptance\" (sales acceptance by score and follow-up), \"close\" (deal closes by [deals]; last stage)",
            GATES,
        );
        let gate_loc = f.has("gate").then(|| Loc {
            path: format!("{}.gate", loc.path),
            ..loc.clone()
        });
        let p = f.opt::<Spanned<Prob>>("p", "probability of advancing (gate \"rate\" only)");
        let delay = f.opt::<Spanned<DelaySpec>>(
            "delay",
            "weeks from entering the stage to the decision (rounded to whole weeks; default 0)",
        );
        let recycle = f.opt::<Vec<RecycleSpec>>(
            "recycle",
            "where leads that do not advance may go back to, instead of dropping out",
        );
        let role_loc = loc.clone();
        let gate = gate?.unwrap_or("rate");
        Some(StageSpec {
            loc: loc.clone(),
            name: name?,
            role: role?.map(|r| Spanned {
                value: r,
                loc: role_loc,
            }),
            gate: Spanned {
                value: gate_kind(gate),
                loc: gate_loc.unwrap_or(loc),
            },
            p: p?,
            delay: delay?,
            recycle: recycle?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct RecycleSpec {
    pub loc: Loc,
    pub to: Spanned<String>,
    pub p: Spanned<Prob>,
    pub delay: Spanned<Dist>,
}

impl ReadTable for RecycleSpec {
    const NAME: &'static str = "Recycle";
    const ABOUT: &'static str = "a share of the leads that do not advance, sent back to a stage";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let to = f.req::<Spanned<String>>(
            "to",
            "the stage they return to (this one or an earlier one)",
        );
        let p = f.req::<Spanned<Prob>>(
            "p",
            "probability that a lead which does not advance is recycled",
        );
        let delay = f.req::<Spanned<Dist>>(
            "delay",
            "weeks before it re-enters the stage (at least 1), after which the stage's own delay runs again",
        );
        Some(RecycleSpec {
            loc,
            to: to?,
            p: p?,
            delay: delay?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ScoringSpec {
    pub loc: Loc,
    pub threshold: Spanned<f64>,
    /// (lowest, highest) score.
    pub range: (f64, f64),
    pub acceptance: AcceptanceSpec,
    pub nurture: Option<NurtureSpec>,
    pub quality: Option<QualitySpec>,
}

/// How a lead's score shifts the conversions after sales acceptance and
/// the deal size: a score is evidence of fit.
#[derive(Debug, Clone)]
pub struct QualitySpec {
    pub loc: Loc,
    pub reference: f64,
    pub per_10_points: f64,
    /// Per-stage log-odds shifts, by stage name.
    pub stages: Option<Named<Finite>>,
    pub win_rate: Option<f64>,
    pub deal_size: f64,
}

impl ReadTable for QualitySpec {
    const NAME: &'static str = "LeadQuality";
    const ABOUT: &'static str = "lead quality: every conversion after sales acceptance (and the win rate) \
        shifts by a number of log-odds per 10 score points away from `reference`, and the deal size by a \
        log-factor; at the reference score the rates and sizes apply as written";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let reference = f.req_num(
            "reference",
            "the score at which the model's rates and deal size apply as written",
            Bounds::FINITE,
        );
        let per_10 = f.opt_num(
            "per_10_points",
            "log-odds added to every rate after acceptance per 10 points above the reference (default 0; \
             0.3 turns 50% into 57% ten points up)",
            Bounds::closed(-5.0, 5.0),
        );
        let stages = f.opt::<Named<Finite>>(
            "stages",
            "per-stage log-odds per 10 points, by stage name: replaces per_10_points for that stage's rate",
        );
        let win = f.opt_num(
            "win_rate",
            "log-odds per 10 points for the win rate (default: per_10_points)",
            Bounds::closed(-5.0, 5.0),
        );
        let size = f.opt_num(
            "deal_size",
            "log deal-size change per 10 points (default 0; 0.1 = about +10.5% per 10 points)",
            Bounds::closed(-2.0, 2.0),
        );
        let stages = stages?;
        if let Some(st) = &stages {
            for (name, v) in &st.0 {
                if !(-5.0..=5.0).contains(&v.0) {
                    f.problem(
                        None,
                        format!(
                            "`stages.{}` must be from -5 to 5 log-odds per 10 points",
                            name.value
                        ),
                        None,
                    );
                    return None;
                }
            }
        }
        Some(QualitySpec {
            loc,
            reference: reference?,
            per_10_points: per_10?.unwrap_or(0.0),
            stages,
            win_rate: win?,
            deal_size: size?.unwrap_or(0.0),
        })
    }
}

impl ReadTable for ScoringSpec {
    const NAME: &'static str = "Scoring";
    const ABOUT: &'static str = "lead scoring: a lead is an MQL iff its score ≥ `threshold`";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let threshold = f.req::<Spanned<Finite>>("threshold", "the MQL threshold score");
        let range = f.opt::<Spanned<Vec<Finite>>>(
            "range",
            "[lowest, highest] score; scores are clipped to it (default [0, 100])",
        );
        let acceptance = f.req::<AcceptanceSpec>(
            "acceptance",
            "probability that sales accepts an MQL of a given score once it has reached the lead \
             (with a sales team, each touch made reaches it with capacity.contact_p)",
        );
        let nurture =
            f.opt::<NurtureSpec>("nurture", "how sub-threshold leads' scores rise over time");
        let quality = f.opt::<QualitySpec>(
            "quality",
            "how the score shifts the conversions after acceptance, the win rate and the deal size",
        );
        let range = match range? {
            None => (0.0, 100.0),
            Some(r) => match r.value.as_slice() {
                [lo, hi] if lo.0 < hi.0 => (lo.0, hi.0),
                _ => {
                    f.problem(
                        Some("range"),
                        "expected [lowest, highest] with lowest < highest",
                        None,
                    );
                    return None;
                }
            },
        };
        let threshold = threshold?;
        let t = threshold.value.0;
        if t < range.0 || t > range.1 {
            f.problem(
                Some("threshold"),
                format!(
                    "the threshold {t} is outside the score range [{}, {}]",
                    range.0, range.1
                ),
                Some(
                    "set `range` to [lowest, highest] score, or move the threshold into it".into(),
                ),
            );
            return None;
        }
        Some(ScoringSpec {
            loc,
            threshold: Spanned {
                value: t,
                loc: threshold.loc,
            },
            range,
            acceptance: acceptance?,
            nurture: nurture?,
            quality: quality?,
        })
    }
}

/// The acceptance curve p(score).
#[derive(Debug, Clone)]
pub enum AcceptanceSpec {
    Constant(Prob),
    Logistic {
        max: Prob,
        midpoint: f64,
        scale: f64,
    },
    Table {
        scores: Vec<f64>,
        p: Vec<f64>,
    },
}

const ACCEPTANCE_ARMS: &[Arm<AcceptanceSpec>] = &[
    Arm {
        tag: "constant",
        about: "the same probability `p` for every score",
        read: |f| {
            f.req::<Prob>("p", "acceptance probability")
                .map(AcceptanceSpec::Constant)
        },
    },
    Arm {
        tag: "logistic",
        about: "p(s) = max / (1 + exp(−(s − midpoint) / scale))",
        read: |f| {
            let max = f.req::<Prob>("max", "the acceptance of the best leads");
            let mid = f.req_num("midpoint", "the score at which p = max/2", Bounds::FINITE);
            let scale = f.req_num("scale", "score points per e-fold (> 0)", Bounds::POSITIVE);
            Some(AcceptanceSpec::Logistic {
                max: max?,
                midpoint: mid?,
                scale: scale?,
            })
        },
    },
    Arm {
        tag: "table",
        about: "straight lines between points (`scores`, `p`), flat beyond the ends",
        read: |f| {
            let scores = f.req::<Vec<Finite>>("scores", "scores, increasing");
            let p = f.req::<Vec<Unit>>("p", "acceptance at each score");
            let scores: Vec<f64> = scores?.into_iter().map(|v| v.0).collect();
            let p: Vec<f64> = p?.into_iter().map(|v| v.0).collect();
            if scores.is_empty() || scores.len() != p.len() {
                let m = format!(
                    "`scores` and `p` need the same, non-zero length ({} and {})",
                    scores.len(),
                    p.len()
                );
                f.problem(None, m, None);
                return None;
            }
            if scores.windows(2).any(|w| w[0] >= w[1]) {
                f.problem(Some("scores"), "`scores` must be strictly increasing", None);
                return None;
            }
            Some(AcceptanceSpec::Table { scores, p })
        },
    },
];

impl ReadTable for AcceptanceSpec {
    const NAME: &'static str = "AcceptanceCurve";
    const ABOUT: &'static str =
        "sales acceptance as a function of score: `curve` = constant, logistic or table";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        f.tagged(
            "curve",
            "the curve's form: constant, logistic or table",
            ACCEPTANCE_ARMS,
        )
    }
}

#[derive(Debug, Clone)]
pub struct NurtureSpec {
    pub weeks: u32,
    pub p_engage: Prob,
    pub lift: f64,
}

impl ReadTable for NurtureSpec {
    const NAME: &'static str = "Nurture";
    const ABOUT: &'static str = "nurture: each week, a lead below the threshold engages with probability \
        `p_engage` and its score rises by `lift`; it becomes an MQL when it reaches the threshold, \
        and leaves after `weeks` weeks";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let weeks = f.req::<Week>("weeks", "how many weeks a lead stays in nurture");
        let p = f.req::<Prob>(
            "p_engage",
            "weekly probability that a nurtured lead engages",
        );
        let lift = f.req_num(
            "lift",
            "score points gained per engagement",
            Bounds::POSITIVE,
        );
        Some(NurtureSpec {
            weeks: weeks?.0,
            p_engage: p?,
            lift: lift?,
        })
    }
}

/// Sales capacity: `"unlimited"` or a team.
#[derive(Debug, Clone)]
pub enum CapacitySpec {
    Unlimited,
    Team(Box<TeamSpec>),
}

impl Read for CapacitySpec {
    fn schema(g: &mut SchemaGen) -> Json {
        json!({"anyOf": [
            {"const": "unlimited", "description": "every MQL gets its full SLA follow-up"},
            g.table::<TeamSpec>()
        ]})
    }

    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        match &node.value {
            Value::Str(s) if s == "unlimited" => Some(CapacitySpec::Unlimited),
            Value::Table(_) => {
                TeamSpec::read(node, path, cx).map(|t| CapacitySpec::Team(Box::new(t)))
            }
            _ => {
                cx.push(mismatch(node, path, "\"unlimited\" or a [capacity] table"));
                None
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct TeamSpec {
    pub loc: Loc,
    /// Fully ramped reps at week 0; `None` = "unlimited" (the team is as
    /// large as the SLA needs every week).
    pub reps: Option<f64>,
    pub touches_per_rep_week: f64,
    pub contact_p: Prob,
    pub ramp_weeks: u32,
    pub tiers: Spanned<Vec<TierSpec>>,
    pub hires: Vec<HireSpec>,
    pub departures: Vec<DepartureSpec>,
    pub cost_per_rep_week: f64,
    pub cost_per_touch: f64,
}

/// A number of reps, or `"unlimited"`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reps(pub Option<f64>);

impl Read for Reps {
    fn schema(_: &mut SchemaGen) -> Json {
        json!({"anyOf": [
            {"type": "number", "minimum": 0, "maximum": MAX_REPS},
            {"const": "unlimited", "description": "as many reps as the SLA needs each week (paid per touch made)"}
        ]})
    }

    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        match &node.value {
            Value::Str(s) if s == "unlimited" => Some(Reps(None)),
            Value::Int(_) | Value::Float(_) => {
                read_number(node, path, cx, Bounds::closed(0.0, MAX_REPS as f64))
                    .map(|r| Reps(Some(r)))
            }
            _ => {
                cx.push(mismatch(
                    node,
                    path,
                    &format!("a number of reps from 0 to {MAX_REPS}, or \"unlimited\""),
                ));
                None
            }
        }
    }
}

impl ReadTable for TeamSpec {
    const NAME: &'static str = "SalesTeam";
    const ABOUT: &'static str = "the sales team that follows up MQLs: when the SLA asks for more touches \
        than the reps can make, every MQL gets fewer touches, is contacted less often and accepted less";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let reps = f.req::<Reps>(
            "reps",
            "fully ramped reps at week 0, or \"unlimited\": a team as large as the SLA needs every week",
        );
        let touches = f.req_num(
            "touches_per_rep_week",
            "follow-up touches one ramped rep makes per week",
            Bounds {
                min: 0.0,
                min_open: true,
                max: 1e7,
                max_open: false,
            },
        );
        let contact = f.req::<Prob>(
            "contact_p",
            "probability that one touch reaches the lead; a lead reached is accepted by scoring.acceptance, \
             so more touches made mean more MQLs accepted",
        );
        let ramp = f.or::<Week>(
            "ramp_weeks",
            "weeks for a new hire to reach full capacity (default 0)",
            Week(0),
        );
        let tiers =
            f.req::<Spanned<Vec<TierSpec>>>("tiers", "SLA tiers: touches asked per MQL by score");
        let hires = f.or::<Vec<HireSpec>>("hires", "reps who start later", Vec::new());
        let departures = f.or::<Vec<DepartureSpec>>("departures", "reps who leave", Vec::new());
        let rep_cost = f.opt_num(
            "cost_per_rep_week",
            "loaded cost of one rep for a week, ramping hires included (default 0); with reps = \"unlimited\" \
             it is paid per touch made: cost_per_rep_week / touches_per_rep_week",
            Bounds::closed(0.0, MAX_MONEY),
        );
        let touch_cost = f.opt_num(
            "cost_per_touch",
            "cost of each follow-up touch made, on top of the reps' cost (default 0)",
            Bounds::closed(0.0, MAX_MONEY),
        );
        Some(TeamSpec {
            loc,
            reps: reps?.0,
            cost_per_rep_week: rep_cost?.unwrap_or(0.0),
            cost_per_touch: touch_cost?.unwrap_or(0.0),
            touches_per_rep_week: touches?,
            contact_p: contact?,
            ramp_weeks: ramp?.0,
            tiers: tiers?,
            hires: hires?,
            departures: departures?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct TierSpec {
    pub loc: Loc,
    pub name: String,
    pub min_score: f64,
    pub touches: f64,
}

impl ReadTable for TierSpec {
    const NAME: &'static str = "SlaTier";
    const ABOUT: &'static str = "an SLA tier: MQLs scoring at least `min_score` get `touches` follow-up touches \
        (an MQL takes the highest tier it qualifies for)";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let name = f.req::<String>("name", "the tier's name");
        let min = f.req_num("min_score", "lowest score in this tier", Bounds::FINITE);
        let touches = f.req_num(
            "touches",
            "touches the SLA asks per MQL",
            Bounds::closed(1.0, 1000.0),
        );
        Some(TierSpec {
            loc,
            name: name?,
            min_score: min?,
            touches: touches?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct HireSpec {
    pub loc: Loc,
    pub week: u32,
    pub count: u32,
    pub ramp_weeks: Option<u32>,
}

impl ReadTable for HireSpec {
    const NAME: &'static str = "Hire";
    const ABOUT: &'static str = "reps who start in week `week` and ramp up linearly";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let week = f.req::<Week>("week", "start week (0 = first week of the plan)");
        let count = f.or_int("count", "how many reps (default 1)", 1, MAX_REPS, 1);
        let ramp = f.opt::<Week>(
            "ramp_weeks",
            "weeks to full capacity (default: capacity.ramp_weeks)",
        );
        Some(HireSpec {
            loc,
            week: week?.0,
            count: count? as u32,
            ramp_weeks: ramp?.map(|w| w.0),
        })
    }
}

#[derive(Debug, Clone)]
pub struct DepartureSpec {
    pub loc: Loc,
    pub week: u32,
    pub count: u32,
}

impl ReadTable for DepartureSpec {
    const NAME: &'static str = "Departure";
    const ABOUT: &'static str = "reps who leave at the start of week `week`";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let week = f.req::<Week>("week", "the week they are gone from");
        let count = f.or_int("count", "how many reps (default 1)", 1, MAX_REPS, 1);
        Some(DepartureSpec {
            loc,
            week: week?.0,
            count: count? as u32,
        })
    }
}

impl Fields<'_, '_> {
    /// An optional integer with a default.
    pub fn or_int(
        &mut self,
        key: &str,
        about: &str,
        lo: i64,
        hi: i64,
        default: i64,
    ) -> Option<i64> {
        self.opt_int(key, about, lo, hi)
            .map(|v| v.unwrap_or(default))
    }
}

/// Deals: the close of an opportunity. In a channel, every key is optional
/// and overrides the model's.
#[derive(Debug, Clone)]
pub struct DealsSpec {
    pub loc: Loc,
    pub win_rate: Option<Spanned<Prob>>,
    pub size: Option<Spanned<Dist>>,
    pub cycle: Option<Spanned<DelaySpec>>,
    pub lost_cycle: Option<Spanned<DelaySpec>>,
    pub slip: Option<SlipSpec>,
    pub quarter_end: Option<QuarterEndSpec>,
}

/// The quarter-end push: deals due early in a quarter closed in the last
/// week of the quarter before.
#[derive(Debug, Clone)]
pub struct QuarterEndSpec {
    pub loc: Loc,
    pub pull_p: Prob,
    pub pull_weeks: u32,
}

impl ReadTable for QuarterEndSpec {
    const NAME: &'static str = "QuarterEnd";
    const ABOUT: &'static str = "the quarter-end push: a deal due in the first `pull_weeks` weeks of a \
        quarter is closed in the last week of the quarter before with probability `pull_p`";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let p = f.req::<Prob>(
            "pull_p",
            "share of the deals due early in a quarter pulled into the quarter before",
        );
        let weeks = f.req_int(
            "pull_weeks",
            "how many weeks at the start of a quarter the push reaches (1 to 6)",
            1,
            6,
        );
        Some(QuarterEndSpec {
            loc,
            pull_p: p?,
            pull_weeks: weeks? as u32,
        })
    }
}

impl ReadTable for DealsSpec {
    const NAME: &'static str = "Deals";
    const ABOUT: &'static str = "how opportunities close: after the sales `cycle` a deal may `slip`; \
        when it closes it is won with probability `win_rate` and brings `size` dollars";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let win =
            f.opt::<Spanned<Prob>>("win_rate", "probability that a closing opportunity is won");
        let size = f.opt::<Spanned<Dist>>("size", "deal size in dollars");
        let cycle = f.opt::<Spanned<DelaySpec>>(
            "cycle",
            "sales cycle: weeks from opportunity to close (rounded to whole weeks)",
        );
        let lost_cycle = f.opt::<Spanned<DelaySpec>>(
            "lost_cycle",
            "weeks from opportunity to a lost close, when losses take longer (or shorter) than wins \
             (default: `cycle`); an open deal that has outlived most won cycles is then likely lost",
        );
        let slip = f.opt::<SlipSpec>("slip", "deals that slip past their close date");
        let quarter_end = f.opt::<QuarterEndSpec>(
            "quarter_end",
            "the quarter-end push: deals due early in a quarter pulled into the quarter before",
        );
        Some(DealsSpec {
            loc,
            win_rate: win?,
            size: size?,
            cycle: cycle?,
            lost_cycle: lost_cycle?,
            slip: slip?,
            quarter_end: quarter_end?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct SlipSpec {
    pub loc: Loc,
    pub p: Spanned<Prob>,
    pub delay: Spanned<Dist>,
}

impl ReadTable for SlipSpec {
    const NAME: &'static str = "Slip";
    const ABOUT: &'static str = "at its close date a deal slips with probability `p` by `delay` weeks, \
        and may slip again";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let p = f.req::<Spanned<Prob>>("p", "probability of slipping at each close date");
        let delay = f.req::<Spanned<Dist>>("delay", "weeks added by a slip (at least 1)");
        Some(SlipSpec {
            loc,
            p: p?,
            delay: delay?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ChannelSpec {
    pub loc: Loc,
    pub source: &'static str,
    pub volume: VolumeSpec,
    pub cost_per_lead: f64,
    pub fixed_cost_per_week: f64,
    pub arrival_cv: f64,
    /// Inclusive [first, last] week ranges.
    pub active_weeks: Option<Vec<(u32, u32)>>,
    /// Whether the ranges repeat every 52-week year (else they are weeks
    /// of the horizon).
    pub active_yearly: bool,
    /// Yearly growth of the volume, compounded week by week.
    pub growth: f64,
    pub seasonality: Option<SeasonalitySpec>,
    pub score: Spanned<Dist>,
    pub stages: Option<Named<StageOverrideSpec>>,
    pub deals: Option<DealsSpec>,
}

impl ReadTable for ChannelSpec {
    const NAME: &'static str = "Channel";
    const ABOUT: &'static str =
        "a lead source: volume, cost, lead scores, and optional overrides of stage rates and deals";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let source = f.opt_choice(
            "source",
            "who produces these leads: \"marketing\" (default) or \"sales\" (outbound, referrals)",
            &["marketing", "sales"],
        );
        let volume =
            f.req::<VolumeSpec>("volume", "weekly lead volume: fixed, or driven by budget");
        let cpl = f.opt_num(
            "cost_per_lead",
            "dollars per lead (default 0)",
            Bounds::closed(0.0, MAX_MONEY),
        );
        let fixed = f.opt_num(
            "fixed_cost_per_week",
            "program cost per active week, whatever the volume (default 0)",
            Bounds::closed(0.0, MAX_MONEY),
        );
        let cv = f.opt_num(
            "arrival_cv",
            "over-dispersion of weekly arrivals: coefficient of variation of the weekly rate \
             (gamma-Poisson); 0 = plain Poisson (default)",
            Bounds::closed(0.0, 10.0),
        );
        let active = f.opt::<Spanned<Vec<Vec<Week>>>>(
            "active_weeks",
            "weeks of the year (0-51) in which the channel produces leads, as [first, last] pairs, repeated \
             every 52 weeks (default: always)",
        );
        let repeat = f.opt_choice(
            "active_weeks_repeat",
            "\"yearly\" (default: active_weeks are weeks of each 52-week year) or \"never\" (weeks of the \
             horizon, to give each year its own)",
            &["yearly", "never"],
        );
        let growth = f.opt_num(
            "growth",
            "yearly growth of the volume, compounded week by week (0.2 = +20% a year; default 0)",
            Bounds::closed(-0.99, 10.0),
        );
        let seasonality =
            f.opt::<SeasonalitySpec>("seasonality", "multipliers of the weekly volume");
        let score = f.req::<Spanned<Dist>>(
            "score",
            "distribution of lead scores (clipped to scoring.range)",
        );
        let stages = f.opt::<Named<StageOverrideSpec>>(
            "stages",
            "per-stage overrides for this channel's leads: [channels.<name>.stages.<stage>]",
        );
        let deals = f.opt::<DealsSpec>("deals", "overrides of [deals] for this channel's leads");
        let yearly = repeat?.unwrap_or("yearly") == "yearly";
        let active_weeks = match active? {
            None => None,
            Some(a) => {
                let mut ranges = Vec::new();
                for r in &a.value {
                    match r.as_slice() {
                        [_, y] if yearly && y.0 >= crate::calendar::WEEKS_PER_YEAR => {
                            f.problem(
                                Some("active_weeks"),
                                format!(
                                    "week {} is past the end of a year: active_weeks repeat every 52 weeks (0-51)",
                                    y.0
                                ),
                                Some(
                                    "to give the weeks of a longer horizon one by one, set active_weeks_repeat = \"never\""
                                        .into(),
                                ),
                            );
                            return None;
                        }
                        [x, y] if x <= y => ranges.push((x.0, y.0)),
                        _ => {
                            f.problem(
                                Some("active_weeks"),
                                "each entry is [first, last] with first ≤ last",
                                Some("e.g. active_weeks = [[0, 12], [30, 51]]".into()),
                            );
                            return None;
                        }
                    }
                }
                Some(ranges)
            }
        };
        Some(ChannelSpec {
            loc,
            source: source?.unwrap_or("marketing"),
            volume: volume?,
            cost_per_lead: cpl?.unwrap_or(0.0),
            fixed_cost_per_week: fixed?.unwrap_or(0.0),
            arrival_cv: cv?.unwrap_or(0.0),
            active_weeks,
            active_yearly: yearly,
            growth: growth?.unwrap_or(0.0),
            seasonality: seasonality?,
            score: score?,
            stages: stages?,
            deals: deals?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct VolumeSpec {
    pub loc: Loc,
    pub leads_per_week: Option<f64>,
    pub budget_per_week: Option<f64>,
    pub response: Option<ResponseSpec>,
    pub budget_min: Option<f64>,
    pub budget_max: Option<f64>,
}

impl ReadTable for VolumeSpec {
    const NAME: &'static str = "Volume";
    const ABOUT: &'static str =
        "weekly lead volume: `leads_per_week`, or `budget_per_week` with a `response` curve";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let leads = f.opt_num(
            "leads_per_week",
            "expected leads per week (before seasonality)",
            Bounds::closed(0.0, MAX_LEADS_PER_WEEK),
        );
        let budget = f.opt_num(
            "budget_per_week",
            "media budget in dollars per week; leads follow from `response`",
            Bounds::closed(0.0, MAX_MONEY),
        );
        let response = f.opt::<ResponseSpec>(
            "response",
            "leads per week as a function of the weekly budget",
        );
        let min = f.opt_num(
            "budget_min_per_week",
            "smallest weekly budget the optimizer may give (default 0)",
            Bounds::closed(0.0, MAX_MONEY),
        );
        let max = f.opt_num(
            "budget_max_per_week",
            "largest weekly budget the optimizer may give (default: unbounded)",
            Bounds::closed(0.0, MAX_MONEY),
        );
        let (budget, response) = (budget?, response?);
        if let (Some(b), Some(r)) = (budget, &response) {
            let leads = crate::model::ResponseCurve::from(r).leads(b);
            if leads.is_nan() || leads > MAX_LEADS_PER_WEEK {
                f.problem(
                    Some("budget_per_week"),
                    format!(
                        "this budget buys {} leads a week on the response curve; a channel has \
                         at most {MAX_LEADS_PER_WEEK:e}",
                        crate::export::format::count(leads)
                    ),
                    Some("lower the budget, or check the response curve's units".into()),
                );
                return None;
            }
        }
        let v = VolumeSpec {
            loc,
            leads_per_week: leads?,
            budget_per_week: budget,
            response,
            budget_min: min?,
            budget_max: max?,
        };
        let changed = f.changed_key(&["budget_per_week", "leads_per_week"]);
        let bounds = f.changed_key(&[
            "budget_per_week",
            "budget_min_per_week",
            "budget_max_per_week",
        ]);
        let (lo, hi) = (
            v.budget_min.unwrap_or(0.0),
            v.budget_max.unwrap_or(f64::INFINITY),
        );
        let problem: Option<(Option<&str>, String, Option<&str>)> =
            match (&v.leads_per_week, &v.budget_per_week, &v.response) {
                (None, Some(b), Some(_)) if !(lo..=hi).contains(b) => Some((
                    bounds,
                    format!("budget_per_week {b} is outside [budget_min_per_week, budget_max_per_week] = [{lo}, {hi}]"),
                    None,
                )),
                (None, Some(_), Some(_)) | (Some(_), None, None) => None,
                (Some(_), Some(_), _) => Some((
                    changed,
                    "give either `leads_per_week` or `budget_per_week`, not both".into(),
                    None,
                )),
                (None, Some(_), None) => Some((
                    None,
                    "`budget_per_week` needs a `response` curve".into(),
                    Some("e.g. response = { curve = \"exponential\", max_leads_per_week = 200, budget_scale = 20000 }"),
                )),
                (Some(_), None, Some(_)) => Some((
                    Some("response"),
                    "`response` applies only with `budget_per_week`".into(),
                    None,
                )),
                (None, None, _) => Some((
                    None,
                    "missing volume: give `leads_per_week`, or `budget_per_week` with a `response` curve".into(),
                    None,
                )),
            };
        match problem {
            None => Some(v),
            Some((key, message, help)) => {
                f.problem(key, message, help.map(String::from));
                None
            }
        }
    }
}

/// Diminishing returns of budget.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseSpec {
    Exponential {
        max_leads: f64,
        scale: f64,
    },
    Power {
        leads: f64,
        budget: f64,
        elasticity: f64,
    },
}

const RESPONSE_ARMS: &[Arm<ResponseSpec>] = &[
    Arm {
        tag: "exponential",
        about: "leads = max_leads_per_week · (1 − exp(−budget / budget_scale))",
        read: |f| {
            let max = f.req_num(
                "max_leads_per_week",
                "the volume no budget can exceed",
                Bounds {
                    min: 0.0,
                    min_open: true,
                    max: MAX_LEADS_PER_WEEK,
                    max_open: false,
                },
            );
            let scale = f.req_num(
                "budget_scale",
                "weekly budget that reaches 63% of the maximum",
                Bounds {
                    min: 0.0,
                    min_open: true,
                    max: MAX_MONEY,
                    max_open: false,
                },
            );
            Some(ResponseSpec::Exponential {
                max_leads: max?,
                scale: scale?,
            })
        },
    },
    Arm {
        tag: "power",
        about: "leads = reference_leads · (budget / reference_budget)^elasticity, elasticity in (0, 1]",
        read: |f| {
            let leads = f.req_num(
                "reference_leads",
                "leads per week at the reference budget",
                Bounds::POSITIVE,
            );
            let budget = f.req_num(
                "reference_budget",
                "a weekly budget with known volume",
                Bounds::POSITIVE,
            );
            let e = f.req_num(
                "elasticity",
                "% more leads per % more budget (1 = constant cost per lead)",
                Bounds {
                    min: 0.0,
                    min_open: true,
                    max: 1.0,
                    max_open: false,
                },
            );
            Some(ResponseSpec::Power {
                leads: leads?,
                budget: budget?,
                elasticity: e?,
            })
        },
    },
];

impl ReadTable for ResponseSpec {
    const NAME: &'static str = "ResponseCurve";
    const ABOUT: &'static str = "diminishing returns of budget: `curve` = exponential or power";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        f.tagged(
            "curve",
            "the curve's form: exponential or power",
            RESPONSE_ARMS,
        )
    }
}

#[derive(Debug, Clone)]
pub struct SeasonalitySpec {
    pub loc: Loc,
    pub by: &'static str,
    pub factors: Vec<f64>,
}

impl ReadTable for SeasonalitySpec {
    const NAME: &'static str = "Seasonality";
    const ABOUT: &'static str =
        "multipliers of weekly volume by month (12), quarter (4) or week of the year (52)";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let by = f.req_choice(
            "by",
            "what each factor covers",
            &["month", "quarter", "week"],
        );
        let factors = f.req::<Vec<NonNeg>>("factors", "one multiplier per period of the year");
        let (by, factors) = (by?, factors?);
        let n = match by {
            "month" => 12,
            "quarter" => 4,
            _ => crate::calendar::WEEKS_PER_YEAR as usize,
        };
        if let Some(bad) = factors.iter().find(|v| v.0 > MAX_SEASONAL_FACTOR) {
            f.problem(
                Some("factors"),
                format!(
                    "a seasonality factor of {} is out of range: factors multiply the weekly \
                     volume and are at most {MAX_SEASONAL_FACTOR}",
                    bad.0
                ),
                Some("factors are relative: 1 is an average period, 2 twice as busy".into()),
            );
            return None;
        }
        if factors.len() != n {
            f.problem(
                Some("factors"),
                format!(
                    "seasonality by {by} needs {n} factors, found {}",
                    factors.len()
                ),
                None,
            );
            return None;
        }
        Some(SeasonalitySpec {
            loc,
            by,
            factors: factors.into_iter().map(|v| v.0).collect(),
        })
    }
}

/// A channel's override of one stage's transition.
#[derive(Debug, Clone)]
pub struct StageOverrideSpec {
    pub loc: Loc,
    pub p: Option<Spanned<Prob>>,
    pub delay: Option<Spanned<DelaySpec>>,
    pub recycle: Option<Vec<RecycleSpec>>,
}

impl ReadTable for StageOverrideSpec {
    const NAME: &'static str = "StageOverride";
    const ABOUT: &'static str =
        "this channel's own values for a stage: any of `p`, `delay`, `recycle`";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let p = f.opt::<Spanned<Prob>>("p", "probability of advancing");
        let delay = f.opt::<Spanned<DelaySpec>>("delay", "weeks to the decision");
        let recycle = f.opt::<Vec<RecycleSpec>>("recycle", "replaces the stage's recycle list");
        Some(StageOverrideSpec {
            loc,
            p: p?,
            delay: delay?,
            recycle: recycle?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct PipelineSpec {
    pub loc: Loc,
    pub csv: Option<Spanned<String>>,
    pub deals: Vec<OpenDealSpec>,
    pub stale: &'static str,
    pub stale_after_weeks: Option<Spanned<u32>>,
    pub win_probability: &'static str,
    pub close_date: &'static str,
}

impl ReadTable for PipelineSpec {
    const NAME: &'static str = "OpenPipeline";
    const ABOUT: &'static str = "what is open at the start: deals, and leads in flight at any stage \
        (MQLs awaiting acceptance, the nurture pool), inline `deals` and/or a `csv` file with columns \
        stage, age_weeks and optional amount, channel, id, score, probability, close_in_weeks, category";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let csv = f.opt::<Spanned<String>>("csv", "CSV file, relative to the file that names it");
        let deals = f.or::<Vec<OpenDealSpec>>("deals", "open deals written inline", Vec::new());
        let stale = f.opt_choice(
            "stale",
            "what to do with deals older than `stale_after_weeks`: \"lost\" (the default: leave them out, \
             with a warning), \"cap\" (treat them as that old), \"keep\" (their age as it is)",
            &["lost", "cap", "keep"],
        );
        let after = f.opt::<Spanned<Week>>(
            "stale_after_weeks",
            "age in weeks past which a deal is stale (default: the 99th percentile of the sales cycle, \
             won or lost)",
        );
        let prob = f.opt_choice(
            "win_probability",
            "\"model\" (default: the win rate given the deal's age) or \"crm\" (each deal's `probability` \
             where it has one)",
            &["model", "crm"],
        );
        let close = f.opt_choice(
            "close_date",
            "\"model\" (default: the cycle's remaining time given the age) or \"crm\" (each deal's \
             `close_in_weeks` where it has one)",
            &["model", "crm"],
        );
        Some(PipelineSpec {
            loc,
            csv: csv?,
            deals: deals?,
            stale: stale?.unwrap_or("lost"),
            stale_after_weeks: after?.map(|w| Spanned {
                value: w.value.0,
                loc: w.loc,
            }),
            win_probability: prob?.unwrap_or("model"),
            close_date: close?.unwrap_or("model"),
        })
    }
}

/// Forecast categories of open deals, as CRMs name them.
pub const CATEGORIES: &[&str] = &["commit", "best_case", "pipeline", "omitted"];

#[derive(Debug, Clone)]
pub struct OpenDealSpec {
    pub loc: Loc,
    pub stage: Spanned<String>,
    /// Known amount; `None`: drawn from the model's deal size.
    pub amount: Option<f64>,
    pub age_weeks: u32,
    pub channel: Option<Spanned<String>>,
    pub id: Option<String>,
    pub score: Option<f64>,
    pub probability: Option<f64>,
    pub close_in_weeks: Option<u32>,
    pub category: Option<&'static str>,
}

impl ReadTable for OpenDealSpec {
    const NAME: &'static str = "OpenDeal";
    const ABOUT: &'static str = "an open deal or a lead in flight: its stage, weeks it has been in that \
        stage, and what the CRM knows of it";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let stage = f.req::<Spanned<String>>("stage", "the stage it is in");
        let amount = f.opt_num(
            "amount",
            "deal amount in dollars (default: drawn from the model's deal size)",
            Bounds::closed(0.0, MAX_MONEY),
        );
        let age = f.req::<Week>("age_weeks", "weeks it has spent in that stage");
        let channel =
            f.opt::<Spanned<String>>("channel", "the channel it came from, for attribution");
        let id = f.opt::<String>("id", "an identifier, e.g. the CRM id");
        let score = f.opt_num(
            "score",
            "its lead score (needed for leads not yet past sales acceptance)",
            Bounds::FINITE,
        );
        let probability = f.opt_num(
            "probability",
            "the CRM's win probability (used with pipeline.win_probability = \"crm\")",
            Bounds::UNIT,
        );
        let close = f.opt::<Week>(
            "close_in_weeks",
            "the CRM's expected close, in weeks from the start (used with pipeline.close_date = \"crm\")",
        );
        let category = f.opt_choice(
            "category",
            "forecast category: commit, best_case, pipeline or omitted",
            CATEGORIES,
        );
        Some(OpenDealSpec {
            loc,
            stage: stage?,
            amount: amount?,
            age_weeks: age?.0,
            channel: channel?,
            id: id?,
            score: score?,
            probability: probability?,
            close_in_weeks: close?.map(|w| w.0),
            category: category?,
        })
    }
}

// ---------------------------------------------------------------------------
// Scenario

/// A scenario file, merged over its model: scenario keys and model keys.
#[derive(Debug, Clone)]
pub struct ScenarioSpec {
    pub loc: Loc,
    pub name: String,
    pub description: Option<String>,
    pub model_path: Spanned<String>,
    pub horizon_weeks: Spanned<u32>,
    pub start_date: Option<Spanned<Date>>,
    pub fiscal_year_start: Option<Spanned<u8>>,
    pub target: TargetSpec,
    pub run: Option<RunSpec>,
    pub mix: Option<MixSpec>,
    pub variants: Vec<VariantSpec>,
    pub model: ModelSpec,
}

impl ReadTable for ScenarioSpec {
    const NAME: &'static str = "Scenario";
    const ABOUT: &'static str = "a scenario: a model, a horizon and a target, with any model key overridden, \
        and named variants to compare";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let name = f.req::<String>("name", "the scenario's name");
        let description = f.opt::<String>("description", "what the scenario is for");
        let model_path =
            f.req::<Spanned<String>>("model", "path of the model file, relative to this file");
        let horizon =
            f.req::<Spanned<Week>>("horizon_weeks", "weeks simulated and planned (1 to 1040)");
        let start = f.opt::<Spanned<Date>>(
            "start_date",
            "calendar date of week 0, so weeks roll up into calendar months and quarters",
        );
        let fiscal = f.opt::<Spanned<Month>>(
            "fiscal_year_start",
            "month (1-12) in which the fiscal year starts, for quarter labels and shares (default 1; needs start_date)",
        );
        let target = f.req::<TargetSpec>("target", "the revenue target");
        let run = f.opt::<RunSpec>("run", "simulation settings: trials and seed");
        let mix = f.opt::<MixSpec>("mix", "how the planner splits leads across channels");
        let variants = f.or::<Vec<VariantSpec>>(
            "variants",
            "named alternatives to compare with the base",
            Vec::new(),
        );
        let model = f.overlay(model_fields);
        Some(ScenarioSpec {
            loc,
            name: name?,
            description: description?,
            model_path: model_path?,
            horizon_weeks: horizon.map(|h| Spanned {
                value: h.value.0,
                loc: h.loc,
            })?,
            start_date: start?,
            fiscal_year_start: fiscal?.map(|m| Spanned {
                value: m.value.0,
                loc: m.loc,
            }),
            target: target?,
            run: run?,
            mix: mix?,
            variants: variants?,
            model: model?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct TargetSpec {
    pub loc: Loc,
    pub metric: Option<Spanned<String>>,
    pub period: &'static str,
    pub annual: Option<f64>,
    pub shares: Option<Spanned<Vec<f64>>>,
    pub amounts: Option<Spanned<Vec<f64>>>,
    pub total: Option<f64>,
}

impl ReadTable for TargetSpec {
    const NAME: &'static str = "Target";
    const ABOUT: &'static str = "the target, in revenue or in a count (`metric`): `annual` (with optional \
        `shares` per period of a year), `amounts` per period, or a `total` for the horizon; spread smoothly over \
        the weeks of each period";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let metric = f.opt::<Spanned<String>>(
            "metric",
            "what the target counts: \"revenue\" (default), \"wins\", \"opportunities\", \"sqls\", \"sals\", \
             \"mqls\", \"leads\" or a stage's name (e.g. marketing's MQL commitment)",
        );
        let period = f.opt_choice(
            "period",
            "reporting period: \"quarter\" (default) or \"month\"",
            &["quarter", "month"],
        );
        let annual = f.opt_num(
            "annual",
            "revenue per year (52 weeks)",
            Bounds::closed(0.0, MAX_MONEY),
        );
        let shares = f.opt::<Spanned<Vec<NonNeg>>>(
            "shares",
            "share of the annual target in each quarter (4) or month (12); sums to 1",
        );
        let amounts = f
            .opt::<Spanned<Vec<NonNeg>>>("amounts", "revenue target of each period of the horizon");
        let total = f.opt_num(
            "total",
            "revenue target for the whole horizon",
            Bounds::closed(0.0, MAX_MONEY),
        );
        let unwrap = |s: Option<Spanned<Vec<NonNeg>>>| {
            s.map(|s| Spanned {
                value: s.value.into_iter().map(|v| v.0).collect(),
                loc: s.loc,
            })
        };
        Some(TargetSpec {
            loc,
            metric: metric?,
            period: period?.unwrap_or("quarter"),
            annual: annual?,
            shares: unwrap(shares?),
            amounts: unwrap(amounts?),
            total: total?,
        })
    }
}

/// A month of the year, 1..=12.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Month(pub u8);

impl Read for Month {
    fn schema(_: &mut SchemaGen) -> Json {
        json!({"type": "integer", "minimum": 1, "maximum": 12})
    }

    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        crate::read::read_int(node, path, cx, 1, 12).map(|m| Month(m as u8))
    }
}

pub use crate::run::Trials;

impl Read for Trials {
    fn schema(_: &mut SchemaGen) -> Json {
        json!({"anyOf": [{"const": "auto"}, {"type": "integer", "minimum": 1, "maximum": MAX_TRIALS}]})
    }

    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        match &node.value {
            Value::Str(s) if s == "auto" => Some(Trials::Auto),
            Value::Int(_) => crate::read::read_int(node, path, cx, 1, MAX_TRIALS)
                .map(|n| Trials::Fixed(n as u64)),
            _ => {
                cx.push(mismatch(
                    node,
                    path,
                    &format!("\"auto\" or a number of trials from 1 to {MAX_TRIALS}"),
                ));
                None
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunSpec {
    pub trials: Option<Trials>,
    pub seed: Option<u64>,
}

impl ReadTable for RunSpec {
    const NAME: &'static str = "Run";
    const ABOUT: &'static str = "simulation settings (the command line overrides them)";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let trials = f.opt::<Trials>("trials", "\"auto\" (default) or a number of trials");
        let seed = f.opt_int("seed", "random seed (default 1)", 0, i64::MAX);
        Some(RunSpec {
            trials: trials?,
            seed: seed?.map(|s| s as u64),
        })
    }
}

#[derive(Debug, Clone)]
pub struct MixSpec {
    pub loc: Loc,
    pub basis: &'static str,
    pub shares: Option<Named<Unit>>,
}

impl ReadTable for MixSpec {
    const NAME: &'static str = "ChannelMix";
    const ABOUT: &'static str = "the planner's channel mix: channels listed in `shares` are scaled to meet the \
        target in these shares; the others keep their volume";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let basis = f.opt_choice(
            "basis",
            "whether shares are of leads (default) or of budget",
            &["leads", "budget"],
        );
        let shares = f.opt::<Named<Unit>>(
            "shares",
            "channel = share; the shares sum to 1 (default: every marketing channel, in proportion to its volume)",
        );
        Some(MixSpec {
            loc,
            basis: basis?.unwrap_or("leads"),
            shares: shares?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct VariantSpec {
    pub loc: Loc,
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub set: Overlay,
}

impl ReadTable for VariantSpec {
    const NAME: &'static str = "Variant";
    const ABOUT: &'static str =
        "a named alternative: the keys in `set` override the scenario, as `--set` does";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let loc = f.loc();
        let name = f.req::<Spanned<String>>("name", "the variant's name");
        let description = f.opt::<String>("description", "what it changes and why");
        let set = f.req::<Overlay>(
            "set",
            "overrides by key path, e.g. set.scoring.threshold = 70 or set.channels.webinar.volume.budget_per_week = 9000",
        );
        Some(VariantSpec {
            loc,
            name: name?,
            description: description?,
            set: set?,
        })
    }
}

/// An overlay kept as a tree, merged later over the scenario.
#[derive(Debug, Clone)]
pub struct Overlay(pub Node);

impl Read for Overlay {
    fn schema(g: &mut SchemaGen) -> Json {
        g.overlay(|g| g.table::<ScenarioOverlay>())
    }

    fn read(node: &Node, path: &str, cx: &mut Cx) -> Option<Self> {
        if node.as_table().is_none() {
            cx.push(mismatch(node, path, "a table of overrides"));
            return None;
        }
        Some(Overlay(node.clone()))
    }
}

/// For the schema only: the keys a variant may set.
struct ScenarioOverlay;

impl ReadTable for ScenarioOverlay {
    const NAME: &'static str = "Overrides";
    const ABOUT: &'static str = "overrides of scenario and model keys";

    fn fields(f: &mut Fields<'_, '_>) -> Option<Self> {
        let _ = f.opt::<String>("description", "what the scenario is for");
        let _ = f.opt::<Week>("horizon_weeks", "weeks simulated and planned");
        let _ = f.opt::<Date>("start_date", "calendar date of week 0");
        let _ = f.opt::<Month>("fiscal_year_start", "month in which the fiscal year starts");
        let _ = f.opt::<TargetSpec>("target", "the revenue target");
        let _ = f.opt::<RunSpec>("run", "simulation settings");
        let _ = f.opt::<MixSpec>("mix", "the planner's channel mix");
        let _ = model_fields(f);
        None
    }
}

/// Reads the model part of a model file.
pub fn read_model(node: &Node, cx: &mut Cx) -> Option<ModelSpec> {
    ModelSpec::read(node, "", cx)
}

/// Reads a scenario merged over its model.
pub fn read_scenario(node: &Node, cx: &mut Cx) -> Option<ScenarioSpec> {
    ScenarioSpec::read(node, "", cx)
}

/// JSON Schema of model files.
pub fn model_schema() -> Json {
    SchemaGen::default().document::<ModelSpec>(
        "https://revplan.dev/schema/model.json",
        "revplan model file",
    )
}

/// JSON Schema of scenario files.
pub fn scenario_schema() -> Json {
    SchemaGen::default().document::<ScenarioSpec>(
        "https://revplan.dev/schema/scenario.json",
        "revplan scenario file",
    )
}
