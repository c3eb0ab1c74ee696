//! The scale-out recipes the README shows, run for real: the Slurm array
//! job on a single-node cluster (`.ci/run` starts it), the Kubernetes
//! Indexed Job against the Kubernetes schema, and the container image's
//! Dockerfile; each file is the README's block, byte for byte.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::batch::tree;
use super::support::{revplan, root};

/// The body of the README's fenced block that follows `marker`.
fn readme_block(marker: &str, lang: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let at = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README has no `{marker}`"));
    let fence = format!("```{lang}\n");
    let start = at + readme[at..].find(&fence).unwrap() + fence.len();
    let len = readme[start..].find("```\n").unwrap();
    readme[start..start + len].to_string()
}

#[test]
fn the_readme_shows_the_shipped_deploy_files() {
    for (marker, lang, file) in [
        ("A Slurm job array", "sh", "deploy/slurm/plans.sh"),
        ("A Kubernetes Indexed Job", "yaml", "deploy/k8s/job.yaml"),
    ] {
        assert_eq!(
            readme_block(marker, lang),
            std::fs::read_to_string(root().join(file)).unwrap(),
            "the README's block after `{marker}` must be {file} as shipped"
        );
    }
}

fn required(var: &str) -> bool {
    std::env::var_os(var).is_some_and(|v| v == "1")
}

fn works(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A folder of scenarios of mixed size (trials set in the files, so the
/// README's script runs them unchanged).
fn scenarios(ws: &Path) {
    let models = ws.join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::create_dir_all(ws.join("scenarios/emea")).unwrap();
    for m in ["small.toml", "two-channels.toml"] {
        std::fs::copy(root().join("tests/data").join(m), models.join(m)).unwrap();
    }
    let files = [
        ("alpha", "small", 26, 1_000_000, 2000),
        ("beta", "two-channels", 26, 9_300_000, 500),
        ("emea/gamma", "small", 20, 500_000, 1000),
        ("delta", "small", 13, 300_000, 500),
        ("epsilon", "two-channels", 52, 15_000_000, 1000),
        ("zeta", "small", 39, 1_500_000, 500),
    ];
    for (name, model, weeks, target, trials) in files {
        let up = "../".repeat(name.matches('/').count() + 1);
        std::fs::write(
            ws.join(format!("scenarios/{name}.toml")),
            format!(
                "name = \"{name}\"\nmodel = \"{up}models/{model}.toml\"\nhorizon_weeks = {weeks}\n\n\
                 [target]\ntotal = {target}\n\n[run]\ntrials = {trials}\n\n\
                 [[variants]]\nname = \"higher-bar\"\nset.scoring.threshold = 70\n"
            ),
        )
        .unwrap();
    }
}

/// Runs `sbatch` with the test's binary first on PATH (the job inherits
/// the environment), cancelling the job if it outlives `limit`.
fn sbatch(ws: &Path, args: &[&str], limit: Duration) -> std::process::Output {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_revplan"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("sbatch")
        .current_dir(ws)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = Command::new("scancel").args(["--name", "revplan"]).status();
            let _ = child.kill();
            panic!("sbatch {args:?} took more than {limit:?}; job cancelled");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    child.wait_with_output().unwrap()
}

fn job_logs(ws: &Path) -> String {
    let mut text = String::new();
    for e in std::fs::read_dir(ws).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("slurm-") {
            text += &format!("--- {name}\n{}", std::fs::read_to_string(e.path()).unwrap());
        }
    }
    text
}

#[test]
fn the_readme_array_job_runs_on_slurm_and_merges_to_one_run() {
    if !works("sinfo", "--version") || !works("sinfo", "-h") {
        assert!(
            !required("REVPLAN_SLURM_TESTS"),
            "REVPLAN_SLURM_TESTS=1 but no Slurm cluster answers: run .ci/run, or \
             `deploy/slurm/cluster.sh start` and export SLURM_CONF"
        );
        eprintln!("skipped: no Slurm cluster here (CI starts one)");
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    scenarios(ws);
    let script = root().join("deploy/slurm/plans.sh");
    let script = script.to_str().unwrap();

    // The README's script, unchanged, as a 4-task array.
    let array = sbatch(
        ws,
        &["--array=0-3", "--wait", "--parsable", "--time=10", script],
        Duration::from_secs(600),
    );
    assert!(
        array.status.success(),
        "sbatch: {}\n{}",
        String::from_utf8_lossy(&array.stderr),
        job_logs(ws)
    );
    let job = String::from_utf8_lossy(&array.stdout).trim().to_string();
    // The README's merge, as a job that depends on the array.
    let merge = sbatch(
        ws,
        &[
            &format!("--dependency=afterany:{job}"),
            "--wait",
            "--job-name=revplan",
            "--wrap",
            "revplan merge results/shard-* --out results/all",
        ],
        Duration::from_secs(120),
    );
    assert!(
        merge.status.success(),
        "merge job: {}\n{}",
        String::from_utf8_lossy(&merge.stderr),
        job_logs(ws)
    );

    // The same bytes as one batch on this machine, plus the shard records.
    let single = revplan()
        .current_dir(ws)
        .args(["batch", "scenarios", "--out", "single"])
        .output()
        .unwrap();
    assert!(single.status.success());
    let mut merged = tree(&ws.join("results/all"));
    let records = merged
        .iter()
        .position(|(n, _)| n == "shards.json")
        .map(|i| merged.remove(i).1)
        .unwrap();
    assert_eq!(merged, tree(&ws.join("single")));
    let records: serde_json::Value = serde_json::from_slice(&records).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 4);
    let mut owned = 0;
    for (i, r) in records.iter().enumerate() {
        assert_eq!(
            (r["index"].as_u64(), r["count"].as_u64()),
            (Some(i as u64), Some(4))
        );
        // --threads "$SLURM_CPUS_PER_TASK"
        assert_eq!(r["threads"], 2);
        owned += r["scenarios"].as_array().unwrap().len();
    }
    assert_eq!(owned, 6);
    eprintln!(
        "Slurm array job of 4 shards, merge job and the single run: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The Python validator of Kubernetes manifests (the `kubernetes-validate`
/// package, which ships the Kubernetes JSON schemas of each release).
fn k8s_validator() -> Option<Command> {
    let python = std::env::var("REVPLAN_K8S_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import kubernetes_validate"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| {
        let mut c = Command::new(python);
        c.args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "--kubernetes-version",
            K8S,
        ]);
        c
    })
}

/// The Kubernetes release the manifest is checked against.
const K8S: &str = "1.33";

#[test]
fn the_kubernetes_job_is_valid_against_the_kubernetes_schema() {
    let Some(mut validate) = k8s_validator() else {
        assert!(
            !required("REVPLAN_K8S_TESTS"),
            "REVPLAN_K8S_TESTS=1 but python3 cannot import kubernetes_validate: \
             pip install -r deploy/k8s/requirements-test.txt"
        );
        eprintln!("skipped: kubernetes-validate is not installed (CI installs it)");
        return;
    };
    let manifest = root().join("deploy/k8s/job.yaml");
    let out = validate.arg(&manifest).output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The validator is not blind: a misspelt field and a wrong type fail.
    let text = std::fs::read_to_string(&manifest).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (from, to) in [
        ("completionMode: Indexed", "completionsMode: Indexed"),
        ("completions: 8", "completions: eight"),
    ] {
        assert!(text.contains(from));
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, text.replace(from, to)).unwrap();
        let out = k8s_validator().unwrap().arg(&bad).output().unwrap();
        assert!(!out.status.success(), "`{to}` passed the schema");
    }
}

/// What the Dockerfile's final stage says, instruction by instruction.
fn final_stage(dockerfile: &str) -> Vec<(String, String)> {
    let mut stages: Vec<Vec<(String, String)>> = Vec::new();
    let joined = dockerfile.replace("\\\n", " ");
    for line in joined.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (op, rest) = line.split_once(' ').unwrap_or((line, ""));
        let op = op.to_uppercase();
        if op == "FROM" {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .expect("a Dockerfile starts with FROM")
            .push((op, rest.trim().to_string()));
    }
    assert!(stages.len() >= 2, "a multi-stage build");
    stages.pop().unwrap()
}

#[test]
fn the_image_is_multi_stage_slim_and_runs_as_the_manifests_user() {
    let dockerfile = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let last = final_stage(&dockerfile);
    let get = |op: &str| -> Vec<&str> {
        last.iter()
            .filter(|(o, _)| o == op)
            .map(|(_, r)| r.as_str())
            .collect()
    };
    // Built in one stage, only the binary copied into a slim one.
    assert!(get("FROM")[0].contains("slim") || get("FROM")[0].contains("distroless"));
    assert!(get("COPY").iter().all(|c| c.starts_with("--from=")));
    assert!(get("RUN").iter().all(|r| !r.contains("cargo")));
    // Not root, and the same numeric user the Job asks for.
    let user = get("USER");
    let user = user.last().expect("USER in the final stage");
    assert!(!user.starts_with('0') && !user.starts_with("root"));
    let uid = user.split(':').next().unwrap();
    let manifest = std::fs::read_to_string(root().join("deploy/k8s/job.yaml")).unwrap();
    assert!(
        manifest.contains(&format!("runAsUser: {uid}")),
        "{manifest}"
    );
    assert!(manifest.contains("runAsNonRoot: true"));
    assert_eq!(get("ENTRYPOINT"), ["[\"revplan\"]"]);
    // The build context leaves the target folder and the CI's caches out.
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target"));
}
