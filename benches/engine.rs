//! Benchmarks of the forecast engines on the shipped scenarios.
//!
//! Prints, for the benchmark scenario acme-52w: the engine's throughput
//! and that of the raw-draw floor measured in the same run (the draws a
//! trial cannot avoid, with no bookkeeping), and their ratio (the median
//! of floor and engine timed in turn), which holds on a noisy machine; the wall time and peak memory of 1,000,000 trials (in a
//! child process, so that peak memory is its own); and the board-plan
//! scenario (sales capacity: the lead engine) for 10,000 trials.
//!
//! Run with `cargo bench`; `cargo bench -- --quick` does fewer repetitions,
//! `--board` runs only the board plan's part and `--acme` only acme-52w's.

use std::path::Path;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use revplan::model::Scenario;
use revplan::run::Trials;
use revplan::sim::fast::FastEngine;
use revplan::sim::{Context, Engine, EngineKind, RunConfig, simulate};

fn load(file: &str) -> Scenario {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    revplan::load::load_scenario(&root.join(file), &[])
        .expect("shipped scenario")
        .base
}

/// Median of `reps` timings of `f`.
fn median(reps: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[reps / 2]
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn million() {
    let s = load("scenarios/acme-52w.toml");
    let opts = RunConfig {
        trials: Trials::Fixed(1_000_000),
        seed: 1,
        max_trials: 1_000_000,
        engine: EngineKind::Auto,
        allow_large: false,
    };
    let t = Instant::now();
    let f = simulate(&s, &opts, &|_| {}).expect("runs");
    let wall = t.elapsed().as_secs_f64();
    println!(
        "{wall:.3} {:.1} {} {:.2} {:.2} {:.2} {:.2} {:.4}",
        peak_rss_mb().unwrap_or(f64::NAN),
        f.engine,
        f.revenue.mean,
        f.revenue.p10,
        f.revenue.p50,
        f.revenue.p90,
        f.p_hit_target
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--million") {
        million();
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    if args.iter().any(|a| a == "--board") {
        return board(quick);
    }
    let reps = if quick { 3 } else { 7 };
    let threads = rayon::current_num_threads();

    // acme-52w: engine against the raw-draw floor, same trials, same blocks.
    let s = load("scenarios/acme-52w.toml");
    let ctx = Context::new(&s);
    let engine = FastEngine::new(&s).expect("acme-52w runs on the fast engine");
    let block = revplan::sim::fast::FAST_BLOCK;
    let trials: u64 = if quick { 65_536 } else { 262_144 };
    let blocks = trials / block;
    let floor_once = || {
        let t = Instant::now();
        let total: f64 = (0..blocks)
            .into_par_iter()
            .map(|b| {
                let mut vals = Vec::new();
                let first = b * block;
                (first..first + block)
                    .map(|t| engine.floor_trial(1, t, &mut vals))
                    .sum::<f64>()
            })
            .sum();
        std::hint::black_box(total);
        t.elapsed()
    };
    let engine_once = || {
        let t = Instant::now();
        let accs: Vec<_> = (0..blocks)
            .into_par_iter()
            .map(|b| engine.run_block(&ctx, 1, b * block, block))
            .collect();
        std::hint::black_box(accs.len());
        t.elapsed()
    };
    // Floor and engine in turn, so that each ratio compares runs a moment
    // apart: the machine's speed drifts more between phases than within.
    let pairs: Vec<(Duration, Duration)> =
        (0..reps).map(|_| (floor_once(), engine_once())).collect();
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let floor = mid(pairs.iter().map(|p| p.0.as_secs_f64()).collect());
    let run = mid(pairs.iter().map(|p| p.1.as_secs_f64()).collect());
    let ratio = mid(pairs
        .iter()
        .map(|p| p.1.as_secs_f64() / p.0.as_secs_f64())
        .collect());
    let rate = |secs: f64| trials as f64 / secs;
    println!("acme-52w, {trials} trials, {threads} threads, median of {reps}:");
    println!("  raw-draw floor   {:>10.0} trials/s", rate(floor));
    println!("  engine           {:>10.0} trials/s", rate(run));
    println!("  engine / floor   {ratio:>10.2}× the floor's time, run by run (bar: ≤ 1.3)");

    // 1,000,000 trials end to end, in a child process for its own peak memory.
    let out = std::process::Command::new(std::env::current_exe().expect("bench binary"))
        .arg("--million")
        .output()
        .expect("child runs");
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() >= 8 {
        println!(
            "acme-52w, 1,000,000 trials end to end: {} s, peak memory {} MB ({} engine; mean {}, P10 {}, P50 {}, P90 {}, P(hit 7.5M) {})",
            f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]
        );
    } else {
        println!(
            "acme-52w, 1,000,000 trials: child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    if !args.iter().any(|a| a == "--acme") {
        board(quick);
    }
}

/// The board plan (sales capacity: the lead and cohort engines) and the
/// same business ten times as large, 10,000 trials each, every engine in
/// the same run.
fn board(quick: bool) {
    let base = load("scenarios/board-plan.toml");
    let mut large = base.clone();
    revplan::decide::levers::scale_business(&mut large, 10.0);
    let reps = if quick { 1 } else { 3 };
    let time = |s: &Scenario, engine: EngineKind| {
        let opts = RunConfig {
            trials: Trials::Fixed(10_000),
            seed: 2027,
            max_trials: 10_000,
            engine,
            allow_large: true,
        };
        median(reps, || {
            std::hint::black_box(simulate(s, &opts, &|_| {}).expect("runs"));
        })
        .as_secs_f64()
    };
    println!("board-plan, 10,000 trials, median of {reps}:");
    let mut rows = Vec::new();
    for engine in [EngineKind::Leads, EngineKind::Cohorts] {
        let (b, l) = (time(&base, engine), time(&large, engine));
        println!(
            "  {:<8} {b:>6.2} s ({:>6.0} trials/s); 10× the leads {l:>6.2} s, {:.2}× the base's time (bar: ≤ 1.5)",
            engine.name(),
            10_000.0 / b,
            l / b
        );
        rows.push((b, l));
    }
    println!(
        "  cohorts / leads: {:.2}× as fast at the base volume, {:.2}× at 10× (bar: ≥ 10 at the base)",
        rows[0].0 / rows[1].0,
        rows[0].1 / rows[1].1
    );
}
