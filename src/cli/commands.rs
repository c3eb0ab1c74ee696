//! One handler per command: load the inputs, run the library with a
//! progress display, and write the result through the export layer.

use clap::ArgMatches;

use crate::Error;
use crate::model::Scenario;
use crate::run::{RunConfig, Trials};

use super::args::*;
use super::io::{
    Sink, charts, emit_bytes, note, out_file, pool, prepare_file, progress_bar, report, say,
    spinner,
};
use crate::export::text::printable;

/// Loads the scenario (or the variant asked for). A variant that does not
/// build blocks only a run of that variant.
fn scenario(a: &ScenarioArgs) -> Result<Scenario, Error> {
    let loaded = crate::load::load_scenario(&a.scenario, &a.set)?;
    match &a.variant {
        None => Ok(loaded.base),
        Some(name) => Ok(loaded.variant(name)?.scenario.clone()),
    }
}

/// The scenario's own run with the command line's overrides.
fn settings(run: &RunArgs, s: &Scenario) -> RunConfig {
    run.overrides().apply(&s.run)
}

pub fn check(a: &CheckArgs) -> Result<u8, Error> {
    let sink = Sink::new(&a.output, false)?;
    let mut reports = Vec::new();
    let mut code = 0;
    for f in &a.files {
        match crate::load::load_any(f, &a.set) {
            Ok(loaded) => reports.push(crate::check::report(&loaded)),
            Err(e) => code = code.max(report(&Error::Input(e))),
        }
    }
    if !reports.is_empty() {
        sink.emit(&crate::check::Checks { reports })?;
    }
    Ok(code)
}

pub fn plan(a: &PlanArgs) -> Result<u8, Error> {
    let sink = Sink::new(&a.output, a.weekly)?;
    let s = scenario(&a.scenario)?;
    let opts = crate::plan::PlanOptions {
        granularity: a.granularity.into(),
        beyond_horizon: a.beyond_horizon,
        aim: 1.0,
    };
    let p = if a.no_simulation {
        crate::plan::plan(&s, &opts)?
    } else {
        let settings = settings(&a.run, &s);
        let bar = spinner("planning");
        let p = pool(a.run.threads(), || {
            crate::decide::ask::ask(&s, &opts, a.confidence, &settings, &|aim| {
                bar.set_message(format!("aiming at {aim:.2}× the target"));
                bar.tick();
            })
        })??;
        bar.finish_and_clear();
        p
    };
    sink.emit(&p)?;
    charts(&a.charts, || crate::chart::plan_charts(&p))?;
    Ok(0)
}

pub fn simulate(a: &SimulateArgs) -> Result<u8, Error> {
    let sink = Sink::new(&a.output, a.reports)?;
    let s = scenario(&a.scenario)?;
    let opts = settings(&a.run, &s);
    let total = match opts.trials {
        Trials::Fixed(n) => n,
        Trials::Auto => opts.max_trials,
    };
    let bar = progress_bar(total, "simulating", "trials");
    let f = pool(a.run.threads(), || {
        crate::sim::simulate(&s, &opts, &|done| bar.set_position(done))
    })??;
    bar.finish_and_clear();
    sink.emit(&f)?;
    charts(&a.charts, || {
        crate::chart::forecast_charts(&f, a.by_channel)
    })?;
    Ok(0)
}

/// Which `--set` belongs to the base and which to each ad-hoc `--variant`:
/// a `--set` belongs to the last `--variant` before it, if any.
fn compare_sets(a: &CompareArgs, m: &ArgMatches) -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let sets: Vec<(usize, &String)> = m
        .indices_of("set")
        .map_or(Vec::new(), |i| i.zip(&a.set).collect());
    let variants: Vec<(usize, &String)> = m
        .indices_of("variant")
        .map_or(Vec::new(), |i| i.zip(&a.variant).collect());
    let owner = |at: usize| variants.iter().rposition(|(vi, _)| *vi < at);
    let base = sets
        .iter()
        .filter(|(i, _)| owner(*i).is_none())
        .map(|(_, s)| (*s).clone())
        .collect();
    let adhoc = variants
        .iter()
        .enumerate()
        .map(|(k, (_, name))| {
            let own = sets
                .iter()
                .filter(|(i, _)| owner(*i) == Some(k))
                .map(|(_, s)| (*s).clone())
                .collect();
            ((*name).clone(), own)
        })
        .collect();
    (base, adhoc)
}

pub fn compare(a: &CompareArgs, m: &ArgMatches) -> Result<u8, Error> {
    let sink = Sink::new(&a.output, false)?;
    let (base_sets, adhoc) = compare_sets(a, m);
    let (loaded, candidates) =
        crate::decide::compare::candidates(&a.scenario, &base_sets, &a.only, &adhoc)?;
    let settings = settings(&a.run, &loaded.base);
    let bar = progress_bar(1 + candidates.len() as u64, "comparing", "runs");
    let c = pool(a.run.threads(), || {
        crate::decide::compare::compare(&loaded.base, &candidates, &settings, &|done| {
            bar.set_position(done as u64)
        })
    })??;
    bar.finish_and_clear();
    sink.emit(&c)?;
    charts(&a.charts, || crate::chart::variants_charts(&c))?;
    Ok(0)
}

pub fn sweep(a: &SweepArgs) -> Result<u8, Error> {
    let sink = Sink::new(&a.output, false)?;
    let values = match (a.from, a.to, a.step) {
        (Some(f), Some(t), Some(s)) => {
            crate::decide::sweep::range_values(f, t, s).map_err(Error::Usage)?
        }
        _ => a.values.clone(),
    };
    let points = crate::decide::sweep::points(
        &a.scenario.scenario,
        &a.scenario.set,
        a.scenario.variant.as_deref(),
        &a.param,
        &values,
    )?;
    let settings = settings(&a.run, &points[0].1);
    let bar = progress_bar(points.len() as u64, "sweeping", "runs");
    let sw = pool(a.run.threads(), || {
        crate::decide::sweep::sweep(&a.param, &points, a.objective.into(), &settings, &|done| {
            bar.set_position(done as u64)
        })
    })??;
    bar.finish_and_clear();
    sink.emit(&sw)?;
    charts(&a.charts, || crate::chart::sweep_charts(&sw))?;
    Ok(0)
}

pub fn goal(a: &GoalArgs) -> Result<u8, Error> {
    let sink = Sink::new(&a.output, false)?;
    let s = scenario(&a.scenario)?;
    let lever = crate::decide::levers::Lever::parse(&a.lever, &s).map_err(Error::Usage)?;
    let settings = settings(&a.run, &s);
    let bar = spinner("goal seek");
    bar.set_message("starting");
    let g = pool(a.run.threads(), || {
        crate::decide::goal::goal(&s, &lever, a.confidence, &settings, &|x| {
            bar.set_message(format!("trying {x:.2}"));
            bar.tick();
        })
    })??;
    bar.finish_and_clear();
    sink.emit(&g)?;
    Ok(if g.reached { 0 } else { 1 })
}

pub fn sensitivity(a: &SensitivityArgs) -> Result<u8, Error> {
    let swing_ok = a.swing > 0.0 && a.swing < 1.0;
    let threshold_ok = (0.0..=100.0).contains(&a.threshold_swing);
    if !swing_ok || !threshold_ok {
        return Err(Error::Usage(
            "--swing must be between 0 and 1, --threshold-swing from 0 to 100 points".into(),
        ));
    }
    let sink = Sink::new(&a.output, false)?;
    let s = scenario(&a.scenario)?;
    let settings = settings(&a.run, &s);
    let swings = crate::decide::sensitivity::Swings {
        relative: a.swing,
        threshold_points: a.threshold_swing,
    };
    let bar = progress_bar(0, "swinging", "runs");
    let r = pool(a.run.threads(), || {
        crate::decide::sensitivity::sensitivity(&s, swings, &settings, &|i, n| {
            bar.set_length(n as u64);
            bar.set_position(i as u64);
        })
    })??;
    bar.finish_and_clear();
    sink.emit(&r)?;
    charts(&a.charts, || crate::chart::sensitivity_charts(&r))?;
    Ok(0)
}

pub fn optimize(a: &OptimizeArgs) -> Result<u8, Error> {
    if !(a.budget.is_finite() && (0.0..=crate::spec::MAX_MONEY).contains(&a.budget)) {
        return Err(Error::Usage(format!(
            "--budget must be a number from 0 to {}",
            crate::spec::MAX_MONEY
        )));
    }
    let sink = Sink::new(&a.output, false)?;
    let s = scenario(&a.scenario)?;
    let mut overrides: Vec<(String, Option<f64>, Option<f64>)> = Vec::new();
    for v in &a.min {
        let (k, x) = crate::decide::optimize::parse_bound(v).map_err(Error::Usage)?;
        overrides.push((k, Some(x), None));
    }
    for v in &a.max {
        let (k, x) = crate::decide::optimize::parse_bound(v).map_err(Error::Usage)?;
        overrides.push((k, None, Some(x)));
    }
    let bounds = crate::decide::optimize::bounds(&s, &overrides).map_err(Error::Usage)?;
    let settings = settings(&a.run, &s);
    let bar = spinner("optimizing");
    let o = pool(a.run.threads(), || {
        crate::decide::optimize::optimize(
            &s,
            a.budget,
            a.objective.into(),
            &bounds,
            &settings,
            &|n| {
                bar.set_message(format!("{n} evaluations"));
                bar.tick();
            },
        )
    })??;
    bar.finish_and_clear();
    sink.emit(&o)?;
    Ok(0)
}

pub fn report_command(a: &ReportArgs) -> Result<u8, Error> {
    let loaded = crate::load::load_scenario(&a.scenario, &a.set)?;
    loaded.all_variants()?;
    let settings = settings(&a.run, &loaded.base);
    // The data is read before the long part, so that a bad export fails fast.
    let (actuals, tracked) = match &a.data {
        Some(path) => {
            let data = crate::actuals::load(path, a.as_of)?;
            let report =
                crate::actuals::report::build(&data, &crate::actuals::report::Options::default());
            // The plan against the actuals, when the plan's weeks and the
            // data's dates overlap.
            let options = crate::track::Options {
                as_of: data.as_of,
                run: a.run.overrides(),
            };
            let tracked = match crate::track::track(&a.scenario, path, &options) {
                Ok(t) => Some(t),
                // The report stands without it: say why it is missing.
                Err(e) => {
                    let why = match &e {
                        Error::Input(input) => input.render(false, 100),
                        other => other.to_string(),
                    };
                    note(&format!(
                        "note: no plan-against-actuals section: {}",
                        why.trim_end()
                    ));
                    None
                }
            };
            (Some(report), tracked)
        }
        None => (None, None),
    };
    let bar = progress_bar(crate::report::STEPS as u64, "report", "steps");
    let options = crate::report::ReportOptions {
        sensitivity: !a.no_sensitivity,
        by_channel: true,
    };
    let r = pool(a.run.threads(), || {
        crate::report::build(&loaded, &settings, options, &|step, what| {
            bar.set_message(what.to_string());
            bar.set_position(step as u64);
        })
    })??;
    let r = match actuals {
        Some(x) => r.with_actuals(x)?,
        None => r,
    };
    let r = match tracked {
        Some(t) => r.with_track(t),
        None => r,
    };
    bar.finish_and_clear();
    let files = crate::report::files(&r);
    let refs: Vec<(String, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.clone(), b.as_slice()))
        .collect();
    crate::output::write_files(&a.out, &refs)
        .map_err(|(path, source)| Error::Write { path, source })?;
    say(&format!(
        "Report written to {} ({} files): P(revenue ≥ {}) = {}",
        a.out.join("index.html").display(),
        files.len(),
        crate::export::format::money(r.forecast.target),
        crate::export::format::pct(r.forecast.p_hit_target)
    ))?;
    Ok(0)
}

pub fn batch(a: &BatchArgs) -> Result<u8, Error> {
    let sink = Sink::stdout(a.format.into())?;
    let mut found = crate::batch::discover(&a.paths)?;
    found.weigh(a.run.overrides().trials);
    for m in &found.skipped_models {
        note(&format!(
            "note: {} is a model file, passed over",
            printable(&m.display().to_string())
        ));
    }
    let threads = a.run.threads().unwrap_or_else(rayon::current_num_threads);
    let run = a.run.overrides();
    let opts = crate::batch::Options {
        trials: run.trials,
        seed: run.seed,
        max_trials: run.max_trials.unwrap_or(crate::run::DEFAULT_MAX_TRIALS),
        engine: run.engine.unwrap_or_default(),
        allow_large: run.allow_large,
        charts: a.charts,
        resume: a.resume,
        shard: a.shard,
        jobs: a.jobs.map_or(threads, |j| j as usize),
        threads: Some(threads),
    };
    let bar = progress_bar(found.share(a.shard).len() as u64, "batch", "scenarios");
    let started = std::time::Instant::now();
    let outcome = crate::batch::run(&a.paths, &found, &a.out, &opts, &|event| match event {
        crate::batch::Event::Started(name) => bar.set_message(name.to_string()),
        crate::batch::Event::Finished { .. } => bar.inc(1),
    })?;
    bar.finish_and_clear();
    let s = &outcome.summary;
    sink.emit(s)?;
    note(&format!(
        "{} scenario(s){}, {} row(s): {} failed, {} reused; {:.1} s; summary in {}",
        s.scenarios,
        a.shard.map_or(String::new(), |sh| {
            let work = found.shard_work(sh.count);
            format!(
                " (shard {}/{} of {}: estimated {:.1} s of work on one thread, of {:.1} s in all)",
                sh.index,
                sh.count,
                found.items.len(),
                work[sh.index] as f64 / 1000.0,
                work.iter().sum::<u64>() as f64 / 1000.0
            )
        }),
        s.rows.len(),
        s.failed,
        outcome.reused,
        started.elapsed().as_secs_f64(),
        a.out.join("summary.csv").display()
    ));
    Ok(if s.failed > 0 { 1 } else { 0 })
}

pub fn merge(a: &MergeArgs) -> Result<u8, Error> {
    let sink = Sink::stdout(a.format.into())?;
    let s = crate::batch::merge(&a.shards, &a.out)?;
    sink.emit(&s)?;
    let longest = s
        .shards
        .iter()
        .map(|r| r.elapsed_seconds)
        .fold(0.0, f64::max);
    let total: f64 = s.shards.iter().map(|r| r.elapsed_seconds).sum();
    note(&format!(
        "{} shard(s) joined: {} scenario(s), {} row(s), {} failed; shards took {:.1} s at most, \
         {:.1} s in all; summary in {}, shard times in {}",
        a.shards.len(),
        s.scenarios,
        s.rows.len(),
        s.failed,
        longest,
        total,
        a.out.join("summary.csv").display(),
        a.out.join("shards.json").display()
    ));
    Ok(if s.failed > 0 { 1 } else { 0 })
}

pub fn actuals(a: &ActualsArgs) -> Result<u8, Error> {
    let sink = Sink::new(&a.output, a.detail)?;
    let data = crate::actuals::load(&a.data, a.as_of)?;
    let options = crate::actuals::report::Options {
        by: match a.by {
            ByArg::Week => crate::actuals::report::By::Week,
            ByArg::Month => crate::actuals::report::By::Month,
            ByArg::Quarter => crate::actuals::report::By::Quarter,
        },
        review: a.review.unwrap_or(0) as usize,
        seed: a.seed,
    };
    let report = crate::actuals::report::build(&data, &options);
    sink.emit(&report)?;
    charts(&a.charts, || crate::chart::actuals_charts(&report))?;
    Ok(0)
}

pub fn calibrate(a: &CalibrateArgs) -> Result<u8, Error> {
    let sink = Sink::new(
        &OutputArgs {
            format: a.format,
            out: a.report.clone(),
            table: None,
            csv_delimiter: b',',
            csv_decimal: ".".into(),
        },
        false,
    )?;
    let model_name = a
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .ok_or_else(|| {
            Error::Usage(format!("--out {}: give a MODEL.toml file", a.out.display()))
        })?;
    let pipeline = crate::calibrate::pipeline_name(&model_name);
    let data = crate::actuals::load(&a.data, a.as_of)?;
    let c = crate::calibrate::calibrate(
        &data,
        &crate::calibrate::Options {
            since: a.since,
            name: a.name.clone(),
            pipeline_file: Some(pipeline.clone()),
        },
    );
    let folder = a.out.parent().filter(|p| !p.as_os_str().is_empty());
    let folder = folder.unwrap_or(std::path::Path::new("."));
    let mut files: Vec<(String, &[u8])> = vec![(model_name.clone(), c.model.as_bytes())];
    if c.open_deals + c.in_flight > 0 {
        files.push((pipeline.clone(), c.pipeline.as_bytes()));
    }
    crate::output::write_files(folder, &files)
        .map_err(|(path, source)| Error::Write { path, source })?;
    sink.emit(&c)?;
    note(&format!(
        "model written to {}{}; try: revplan check {}",
        a.out.display(),
        if files.len() > 1 {
            format!(" (pipeline: {})", folder.join(&pipeline).display())
        } else {
            String::new()
        },
        a.out.display()
    ));
    Ok(0)
}

pub fn backtest(a: &BacktestArgs) -> Result<u8, Error> {
    let sink = Sink::new(&a.output, false)?;
    let origins = match a.every {
        Some(n) => {
            let data = crate::actuals::load(&a.data, None)?;
            crate::backtest::every(&data, n, a.weeks)
        }
        None => a.origins.clone(),
    };
    if origins.is_empty() {
        return Err(Error::Usage(format!(
            "no origin leaves {} weeks of actuals after 13 weeks of history: give --origins, or fewer --weeks",
            a.weeks
        )));
    }
    let bar = progress_bar(origins.len() as u64, "backtest", "origins");
    let b = crate::backtest::run(
        &a.data,
        &crate::backtest::Options {
            origins,
            weeks: a.weeks,
            metric: match a.metric {
                MetricArg::Revenue => crate::backtest::Metric::Revenue,
                MetricArg::Wins => crate::backtest::Metric::Wins,
                MetricArg::Opportunities => crate::backtest::Metric::Opportunities,
            },
            given_arrivals: a.given_arrivals,
            trials: a.trials,
            seed: a.seed,
        },
    )?;
    bar.finish_and_clear();
    sink.emit(&b)?;
    charts(&a.charts, || crate::chart::backtest_charts(&b))?;
    Ok(0)
}

pub fn track(a: &TrackArgs) -> Result<u8, Error> {
    let sink = Sink::new(&a.output, a.detail)?;
    let t = crate::track::track(
        &a.scenario,
        &a.data,
        &crate::track::Options {
            as_of: a.as_of,
            run: a.run.overrides(),
        },
    )?;
    sink.emit(&t)?;
    Ok(0)
}

pub fn generate_crm(a: &GenerateArgs) -> Result<u8, Error> {
    let g = crate::actuals::generate::generate(&crate::actuals::generate::Options {
        preset: match a.preset {
            PresetArg::Salesforce => crate::actuals::source::Preset::Salesforce,
            PresetArg::Hubspot => crate::actuals::source::Preset::Hubspot,
        },
        leads: a.leads as usize,
        seed: a.seed,
        start: a.start,
        weeks: a.weeks,
        defects: !a.clean,
        shift: None,
        seasonal: None,
        quality: 0.0,
    });
    let refs: Vec<(String, &[u8])> = g
        .files
        .iter()
        .map(|(n, b)| (n.clone(), b.as_slice()))
        .collect();
    crate::output::write_files(&a.out, &refs)
        .map_err(|(path, source)| Error::Write { path, source })?;
    say(&format!(
        "{} files written to {}: {} leads, {} deals; run: revplan actuals {}",
        g.files.len(),
        a.out.display(),
        g.truth.leads,
        g.truth.deals,
        a.out.join("data.toml").display()
    ))?;
    Ok(0)
}

pub fn schema(a: &SchemaArgs) -> Result<u8, Error> {
    if let Some(path) = out_file(&a.out) {
        prepare_file(path)?;
    }
    let schema = crate::schema::of(a.kind.into());
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    emit_bytes(text.as_bytes(), out_file(&a.out))?;
    Ok(0)
}

pub fn completions(a: &CompletionsArgs) -> Result<u8, Error> {
    let mut cmd = command(100);
    let mut bytes = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "revplan", &mut bytes);
    emit_bytes(&bytes, None)?;
    Ok(0)
}

pub fn man(a: &ManArgs) -> Result<u8, Error> {
    if let Some(path) = out_file(&a.out) {
        prepare_file(path)?;
    }
    let cmd = command(100);
    let mut bytes = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut bytes)
        .map_err(|source| Error::Write {
            path: a.out.clone().unwrap_or_else(|| "<stdout>".into()),
            source,
        })?;
    emit_bytes(&bytes, out_file(&a.out))?;
    Ok(0)
}
