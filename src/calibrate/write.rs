//! The files calibration writes: the model (every value with its evidence
//! in a comment) and its pipeline CSV (open deals and in-flight leads).

use std::fmt::Write as _;

use super::fit::LogNormalFit;
use super::{Calibration, RateFit, STEPS, Times, Window, source_of, weeks_between};
use crate::actuals::{Deal, Status};
use crate::export::format::pct;

/// A TOML string.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A number short enough to read and exact enough to matter.
fn num(x: f64) -> String {
    if x == x.round() && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// `, uncertainty = { … }` of a fitted log-normal, or nothing when its
/// information could not be inverted.
fn uncertainty(f: &LogNormalFit) -> String {
    if !f.has_errors() {
        return String::new();
    }
    format!(
        ", uncertainty = {{ log_median_sd = {}, sigma_sd = {}, correlation = {} }}",
        num(f.mu_se),
        num(f.sigma_se),
        num(f.correlation)
    )
}

/// A stage's delay: the converters' weekly histogram, and past the longest
/// time seen a log-normal tail (truncated maximum likelihood: a converter
/// is seen only if it converted by the cut-off) holding 1/(n + 1), the
/// chance that the next of n conversions takes longer than all of them.
fn delay(t: &Times) -> String {
    let h = t.histogram();
    let tail = t.tail();
    let body = |h: &[(u32, f64)]| {
        format!(
            "{{ dist = \"empirical\", values = [{}], weights = [{}]",
            h.iter()
                .map(|(w, _)| w.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            h.iter()
                .map(|(_, s)| num(*s))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    match (h.as_slice(), tail) {
        ([], _) => "1".into(),
        ([(w, _)], None) => w.to_string(),
        (_, None) => body(&h) + " }",
        (_, Some(f)) => {
            let from = h.last().map_or(0, |l| l.0) + 1;
            format!(
                "{}, tail = {{ from = {from}, weight = {}, median = {}, sigma = {}{} }} }}",
                body(&h),
                num(1.0 / (t.weeks.len() as f64 + 1.0)),
                num(f.median()),
                num(f.sigma),
                uncertainty(&f)
            )
        }
    }
}

/// The effect of the score on a step, when it is written to the model.
fn effect(c: &Calibration, step: &str) -> Option<f64> {
    c.score_effects
        .iter()
        .find(|e| e.step == step && e.used)
        .map(|e| e.per_10_points)
}

/// The rate's Beta as the model needs it: at the quality reference score
/// when the score moves this step (the source's own leads score
/// `score_offset` tens of points from it), with the same weight.
fn beta(c: &Calibration, r: &RateFit) -> String {
    let (mut a, mut b) = (r.alpha, r.beta);
    if let (Some(slope), Some(x)) = (effect(c, &r.step), r.score_offset) {
        let n = a + b;
        let m = crate::model::shift_log_odds(a / n, -slope * x);
        (a, b) = (m * n, (1.0 - m) * n);
    }
    format!("{{ alpha = {}, beta = {} }}", num(a), num(b))
}

fn evidence(r: &RateFit) -> String {
    format!(
        "# {}: {} converted, {} failed, {} still open of {}; {} (90%: {}–{})",
        r.step,
        r.converted,
        r.failed,
        r.open,
        r.items,
        pct(r.mean),
        pct(r.p5),
        pct(r.p95)
    )
}

/// The average of one step's rate over sources, weighted by items: the
/// stage's default.
fn average(c: &Calibration, step: &str) -> Option<f64> {
    let rs: Vec<&RateFit> = c.rates.iter().filter(|r| r.step == step).collect();
    let n: f64 = rs.iter().map(|r| r.items as f64).sum();
    (n > 0.0).then(|| rs.iter().map(|r| r.mean * r.items as f64).sum::<f64>() / n)
}

fn header(out: &mut String, c: &Calibration, name: &str) {
    let _ = writeln!(
        out,
        "# Calibrated by `revplan calibrate` from the actuals as of {}{}, {:.1} weeks of leads.\n\
         # Each value says its evidence: counts, and a 90% interval where it is uncertain.\n\
         # Rates are Beta posteriors (drawn once per trial): still-open items count as\n\
         # censored, not failed, and each source borrows strength from the others.\n",
        c.as_of,
        c.since
            .as_ref()
            .map_or(String::new(), |s| format!(" (since {s})")),
        c.weeks
    );
    let _ = writeln!(out, "name = {}", quoted(name));
    let _ = writeln!(
        out,
        "description = {}\n",
        quoted(&format!("Fitted to the actuals as of {}", c.as_of))
    );
    let _ = writeln!(
        out,
        "# The exports do not show sales capacity: every MQL is worked. Add a\n\
         # [capacity] table to plan headcount.\ncapacity = \"unlimited\"\n"
    );
}

fn stages(out: &mut String, c: &Calibration, delays: &[Times]) {
    let _ = writeln!(out, "[[stages]]\nname = \"lead\"");
    match c.threshold {
        Some(_) => {
            let _ = writeln!(out, "gate = \"score\"");
        }
        None => {
            let p = average(c, "lead→mql").unwrap_or(0.5);
            let _ = writeln!(out, "p = {}", num(p));
        }
    }
    let _ = writeln!(
        out,
        "# lead → MQL time, {} MQLs\ndelay = {}\n",
        delays[0].weeks.len(),
        delay(&delays[0])
    );
    for (i, (from, to)) in STEPS.iter().enumerate() {
        let step = format!("{from}→{to}");
        let _ = writeln!(
            out,
            "[[stages]]\nname = {}\n# the average over sources (each channel has its own below)\np = {}\n\
             # {from} → {to} time, {} conversions\ndelay = {}\n",
            quoted(from),
            num(average(c, &step).unwrap_or(0.5)),
            delays[i + 1].weeks.len(),
            delay(&delays[i + 1])
        );
    }
    let _ = writeln!(
        out,
        "[[stages]]\nname = \"opportunity\"\ngate = \"close\"\n"
    );
}

fn scoring(out: &mut String, c: &Calibration) {
    let (lo, hi) = c.channels.iter().fold((0.0f64, 100.0f64), |(lo, hi), ch| {
        match (ch.score_mean, ch.score_sd) {
            (Some(m), Some(s)) => (lo.min((m - 4.0 * s).floor()), hi.max((m + 4.0 * s).ceil())),
            _ => (lo, hi),
        }
    });
    let _ = writeln!(out, "[scoring]");
    match (c.threshold, c.threshold_agreement) {
        (Some(t), Some(a)) => {
            let _ = writeln!(
                out,
                "# Leads at or above this score became MQLs ({} of leads agree).",
                pct(a)
            );
            let _ = writeln!(out, "threshold = {}", num(t));
        }
        _ => {
            let _ = writeln!(
                out,
                "# Scores do not say who became an MQL: the lead stage converts at a rate."
            );
            let _ = writeln!(out, "threshold = {}", num(lo));
        }
    }
    let _ = writeln!(
        out,
        "range = [{}, {}]\n# Acceptance is fitted per source as the mql stage's rate.\n\
         acceptance = {{ curve = \"constant\", p = 1 }}",
        num(lo),
        num(hi)
    );
    quality(out, c);
    let _ = writeln!(out);
}

/// The score's effect on later steps: `quality`, with what was found.
fn quality(out: &mut String, c: &Calibration) {
    let Some(reference) = c.quality_reference else {
        return;
    };
    let _ = writeln!(
        out,
        "# How the score moves each step, per 10 points (one level per source; |z| > 3 is kept):"
    );
    for e in &c.score_effects {
        let _ = writeln!(
            out,
            "#   {}: {:+.3} ± {:.3} ({} items){}",
            e.step,
            e.per_10_points,
            e.std_error,
            e.items,
            if e.used { "" } else { " — not beyond chance" }
        );
    }
    if !c.score_effects.iter().any(|e| e.used) {
        return;
    }
    let stages: Vec<String> = ["mql", "sal", "sql"]
        .iter()
        .zip(STEPS)
        .filter_map(|(stage, (from, to))| {
            effect(c, &format!("{from}→{to}")).map(|b| format!("{stage} = {}", num(b)))
        })
        .collect();
    let _ = writeln!(
        out,
        "quality = {{ reference = {}, per_10_points = 0, stages = {{ {} }}, win_rate = {}, deal_size = {} }}",
        num(reference),
        stages.join(", "),
        num(effect(c, "opportunity→won").unwrap_or(0.0)),
        num(effect(c, "deal size").unwrap_or(0.0))
    );
}

fn deals(out: &mut String, c: &Calibration, cycle: Option<&LogNormalFit>) {
    let _ = writeln!(out, "[deals]");
    let won: Vec<&RateFit> = c
        .rates
        .iter()
        .filter(|r| r.step == "opportunity→won")
        .collect();
    let (k, r): (usize, usize) = won
        .iter()
        .fold((0, 0), |(k, r), w| (k + w.converted, r + w.failed));
    let _ = writeln!(
        out,
        "# All sources: {k} won, {r} lost (each channel has its own below).\n\
         win_rate = {{ alpha = {}, beta = {} }}",
        k + 1,
        r + 1
    );
    let sized: Vec<_> = c
        .channels
        .iter()
        .filter(|ch| ch.size_median.is_some())
        .collect();
    let n: usize = sized.iter().map(|ch| ch.won_deals).sum();
    if n > 0 {
        let mu = sized
            .iter()
            .map(|ch| ch.size_median.unwrap_or(1.0).ln() * ch.won_deals as f64)
            .sum::<f64>()
            / n as f64;
        let sigma = sized
            .iter()
            .map(|ch| ch.size_sigma.unwrap_or(0.5) * ch.won_deals as f64)
            .sum::<f64>()
            / n as f64;
        let _ = writeln!(
            out,
            "# {n} won deals with an amount.\nsize = {{ dist = \"lognormal\", median = {}, sigma = {} }}",
            num(mu.exp().round()),
            num(sigma)
        );
    } else {
        let _ = writeln!(
            out,
            "# No won deal has an amount: the size is a placeholder; set it.\nsize = 10000"
        );
    }
    match cycle {
        Some(f) => {
            let (lo, hi) = f.median_interval(1.645);
            let _ = writeln!(
                out,
                "# Created → closed (won or lost): {} closed, {} still open (censored);\n\
                 # log-normal by censored maximum likelihood, median {:.1} weeks (90%: {:.1}–{:.1}),\n\
                 # sigma {:.2} ± {:.2}; each trial draws median and sigma from their uncertainty.\n\
                 cycle = {{ dist = \"lognormal\", median = {}, sigma = {}{} }}\n",
                f.events,
                f.censored,
                f.median(),
                lo,
                hi,
                f.sigma,
                f.sigma_se,
                num(f.median()),
                num(f.sigma),
                uncertainty(f)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "# Fewer than two closed deals: the cycle is a placeholder; set it.\ncycle = 12\n"
            );
        }
    }
}

fn channels(out: &mut String, c: &Calibration) {
    for ch in &c.channels {
        let _ = writeln!(
            out,
            "# {}: {} leads in {:.1} weeks; weekly variance/mean {:.2}.",
            crate::export::text::printable(&ch.source),
            ch.leads,
            c.weeks,
            ch.dispersion
        );
        let _ = writeln!(out, "[channels.{}]", ch.key);
        let _ = writeln!(
            out,
            "volume = {{ leads_per_week = {} }}",
            num((ch.leads_per_week * 100.0).round() / 100.0)
        );
        let _ = writeln!(out, "# {}", ch.seasonality_note);
        if let Some(f) = &ch.seasonality {
            let _ = writeln!(
                out,
                "seasonality = {{ by = \"month\", factors = [{}] }}",
                f.iter()
                    .map(|x| num((x * 1000.0).round() / 1000.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if let Some(cv) = ch.arrival_cv {
            let _ = writeln!(out, "arrival_cv = {}", num(cv.min(10.0)));
        }
        if let Some(cpl) = ch.cost_per_lead {
            let _ = writeln!(
                out,
                "cost_per_lead = {}",
                num((cpl * 100.0).round() / 100.0)
            );
        }
        match (ch.score_mean, ch.score_sd) {
            (Some(m), Some(s)) => {
                let _ = writeln!(
                    out,
                    "score = {{ dist = \"normal\", mean = {}, sd = {} }}",
                    num(m),
                    num(s)
                );
            }
            _ => {
                let _ = writeln!(out, "score = 50");
            }
        }
        for r in c.rates.iter().filter(|r| r.source == ch.source) {
            let stage = r.step.split('→').next().unwrap_or("lead");
            if stage == "opportunity" {
                continue;
            }
            let _ = writeln!(
                out,
                "{}\n[channels.{}.stages.{stage}]\np = {}",
                evidence(r),
                ch.key,
                beta(c, r)
            );
        }
        let won = c
            .rates
            .iter()
            .find(|r| r.source == ch.source && r.step == "opportunity→won");
        let _ = writeln!(out, "[channels.{}.deals]", ch.key);
        if let Some(r) = won {
            let _ = writeln!(out, "{}\nwin_rate = {}", evidence(r), beta(c, r));
        }
        if let (Some(m), Some(s)) = (ch.size_median, ch.size_sigma) {
            // At the reference score, when the score moves deal sizes.
            let m = match (effect(c, "deal size"), ch.size_score_offset) {
                (Some(slope), Some(x)) => m * (-slope * x).exp(),
                _ => m,
            };
            let _ = writeln!(
                out,
                "# {} won deals with an amount.\nsize = {{ dist = \"lognormal\", median = {}, sigma = {} }}",
                ch.won_deals,
                num(m.round()),
                num(s)
            );
        }
        let _ = writeln!(out);
    }
}

/// The model file.
pub(super) fn model(
    c: &Calibration,
    delays: &[Times],
    cycle: Option<&LogNormalFit>,
    name: &str,
) -> String {
    let mut out = String::new();
    header(&mut out, c, name);
    stages(&mut out, c, delays);
    scoring(&mut out, c);
    deals(&mut out, c, cycle);
    channels(&mut out, c);
    for w in &c.warnings {
        // A source's name is in some: never a line of its own.
        let _ = writeln!(out, "# warning: {}", crate::export::text::printable(w));
    }
    out
}

/// The file name of the pipeline CSV beside a model file named `model`.
pub fn pipeline_name(model: &str) -> String {
    let stem = model.strip_suffix(".toml").unwrap_or(model);
    format!("{stem}-pipeline.csv")
}

/// The pipeline CSV: every open deal, and every lead still in a stage it
/// may yet leave (younger than the longest conversion seen from it);
/// with the counts of each.
pub(super) fn pipeline(
    w: &Window,
    deals: &[(&Deal, String)],
    delays: &[Times],
    channel: &dyn Fn(&str) -> String,
    stage: &dyn Fn(&str) -> Option<String>,
) -> (String, usize, usize) {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let _ = csv.write_record([
        "stage",
        "amount",
        "age_weeks",
        "channel",
        "id",
        "score",
        "category",
    ]);
    let as_of = w.data.as_of;
    let mut open = 0;
    for (d, source) in deals.iter().filter(|(d, _)| d.status == Status::Open) {
        let Some(name) = stage("opportunity") else {
            continue;
        };
        let category = d
            .category
            .as_deref()
            .map(str::to_lowercase)
            .filter(|c| crate::spec::CATEGORIES.contains(&c.as_str()))
            .unwrap_or_default();
        let _ = csv.write_record([
            name,
            d.amount.map_or(String::new(), num),
            (weeks_between(d.created, as_of).floor().max(0.0) as u64).to_string(),
            channel(source),
            d.id.clone(),
            String::new(),
            category,
        ]);
        open += 1;
    }
    let mut in_flight = 0;
    for l in &w.leads {
        let Some(i) = (0..STEPS.len()).rev().find(|i| l.stages[*i].is_some()) else {
            continue;
        };
        if l.stages[i + 1].is_some() || l.rejected {
            continue;
        }
        let age = weeks_between(l.stages[i].unwrap_or(as_of), as_of);
        let longest = delays[i + 1].weeks.last().copied().unwrap_or(0.0);
        if age > longest {
            continue;
        }
        let Some(name) = stage(STEPS[i].0) else {
            continue;
        };
        let _ = csv.write_record([
            name,
            String::new(),
            (age.floor().max(0.0) as u64).to_string(),
            channel(&source_of(l)),
            l.id.clone(),
            l.score.map_or(String::new(), num),
            String::new(),
        ]);
        in_flight += 1;
    }
    let bytes = csv.into_inner().unwrap_or_default();
    (
        String::from_utf8_lossy(&bytes).into_owned(),
        open,
        in_flight,
    )
}
