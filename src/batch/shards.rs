//! Shards of a batch: which task runs which scenario (balanced by estimated
//! work), what each shard records of its run, and merging the shard
//! folders into the folder a single run would have written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    BatchError, Item, Manifest, Row, Summary, files_under, lock, read, write, write_manifest,
    write_summary,
};
use crate::load::read_bytes;

/// `I/N`: the share of a batch one task runs (`0 ≤ I < N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let expected = || {
            format!(
                "expected I/N with 0 ≤ I < N, such as 0/4 (a Kubernetes JOB_COMPLETION_INDEX \
                 or a Slurm SLURM_ARRAY_TASK_ID); got `{s}`"
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(expected)?;
        let index: usize = i.trim().parse().map_err(|_| expected())?;
        let count: usize = n.trim().parse().map_err(|_| expected())?;
        if count == 0 || index >= count {
            return Err(expected());
        }
        Ok(Shard { index, count })
    }
}

/// Which shard of `count` runs each scenario: the largest first, each to
/// the shard with the least work so far (then the fewest scenarios, then
/// the lowest index) — the same answer in every task of the batch.
pub fn assign(items: &[Item], count: usize) -> Vec<usize> {
    let count = count.max(1);
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|a, b| items[*b].work_ms.cmp(&items[*a].work_ms).then(a.cmp(b)));
    let mut load = vec![(0u64, 0usize); count];
    let mut owner = vec![0; items.len()];
    for i in order {
        let s = (0..count).min_by_key(|s| (load[*s], *s)).unwrap_or(0);
        load[s].0 += items[i].work_ms;
        load[s].1 += 1;
        owner[i] = s;
    }
    owner
}

/// What one shard's run was: written to `DIR/shard.json` by
/// `batch --shard`, gathered into `DIR/shards.json` by `merge`, and shown
/// in both commands' summaries. Times are the only part of a batch's
/// output that is not a function of its inputs, so they live here and
/// never in the summary files.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShardRun {
    pub index: usize,
    pub count: usize,
    /// The scenarios this shard owns, in batch order.
    pub scenarios: Vec<String>,
    /// Of them, those with at least one failed row.
    pub failed: Vec<String>,
    /// Scenarios whose outputs `--resume` kept.
    pub reused: usize,
    /// Estimated work on one thread, in seconds: what the split balanced.
    pub estimated_seconds: f64,
    /// Wall-clock time of the shard's (last) run, in seconds.
    pub elapsed_seconds: f64,
    /// Threads it ran on.
    pub threads: usize,
}

/// The file a shard's record is written to.
pub(super) const SHARD_FILE: &str = "shard.json";
/// The file `merge` gathers the records into.
pub(super) const SHARDS_FILE: &str = "shards.json";

pub(super) fn write_record(out: &Path, run: &ShardRun) -> Result<(), BatchError> {
    let text = serde_json::to_string_pretty(run).unwrap_or_default() + "\n";
    write(out, SHARD_FILE, text.as_bytes())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, what: &str) -> Result<T, String> {
    let bytes =
        read_bytes(path).map_err(|e| format!("{}: cannot read {what}: {e}", path.display()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not a revplan {what}: {e}", path.display()))
}

/// Up to five names, then how many more.
fn some_of(names: &[&str]) -> String {
    let mut text = names.iter().take(5).copied().collect::<Vec<_>>().join(", ");
    if names.len() > 5 {
        text += &format!(" and {} more", names.len() - 5);
    }
    text
}

/// Every shard folder's manifest, checked to belong to one batch, by index.
fn manifests(shard_dirs: &[PathBuf]) -> Result<BTreeMap<usize, (&PathBuf, Manifest)>, BatchError> {
    let mut shards: BTreeMap<usize, (&PathBuf, Manifest)> = BTreeMap::new();
    for dir in shard_dirs {
        let m: Manifest = read_json(&dir.join("batch.json"), "batch manifest (batch.json)")
            .map_err(|e| {
                BatchError::Merge(format!(
                    "{e}; is it the output folder of `revplan batch --shard`? (batch.json is written when a shard starts)"
                ))
            })?;
        let Some(shard) = m.shard else {
            return Err(BatchError::Merge(format!(
                "{} holds a whole batch, not a shard (it was run without --shard)",
                dir.display()
            )));
        };
        let same_batch = |a: &Manifest| Manifest {
            shard: None,
            ..a.clone()
        };
        if let Some((first_dir, first)) = shards.values().next()
            && (same_batch(first) != same_batch(&m)
                || first.shard.map(|s| s.count) != Some(shard.count))
        {
            return Err(BatchError::Merge(format!(
                "{} is a shard of another batch: its scenarios, settings or shard count differ from {}'s",
                dir.display(),
                first_dir.display()
            )));
        }
        if let Some((other, _)) = shards.insert(shard.index, (dir, m)) {
            return Err(BatchError::Merge(format!(
                "{} and {} are both shard {}/{}",
                other.display(),
                dir.display(),
                shard.index,
                shard.count
            )));
        }
    }
    Ok(shards)
}

/// What a finished shard left: its summary and its record.
struct Finished {
    summary: Summary,
    record: ShardRun,
}

/// Reads each shard's summary and record; for the shards that are missing
/// or did not finish, says which scenarios have no results yet and how to
/// get them, all shards at once.
fn finished(
    shards: &BTreeMap<usize, (&PathBuf, Manifest)>,
    first: &Manifest,
    owners: &[usize],
    count: usize,
) -> Result<BTreeMap<usize, Finished>, BatchError> {
    let owned = |i: usize| -> Vec<&Item> {
        first
            .scenarios
            .iter()
            .zip(owners)
            .filter(|(_, o)| **o == i)
            .map(|(item, _)| item)
            .collect()
    };
    let mut problems = Vec::new();
    let mut done = BTreeMap::new();
    for i in 0..count {
        let mine = owned(i);
        let names: Vec<&str> = mine.iter().map(|it| it.scenario.as_str()).collect();
        let Some((dir, _)) = shards.get(&i) else {
            problems.push(format!(
                "shard {i}/{count} missing: its folder was not given ({} scenario(s): {})",
                mine.len(),
                some_of(&names)
            ));
            continue;
        };
        let summary = read_json::<Summary>(&dir.join("summary.json"), "batch summary");
        let record = read_json::<ShardRun>(&dir.join(SHARD_FILE), "shard record");
        match (summary, record) {
            (Ok(summary), Ok(record)) => {
                done.insert(i, Finished { summary, record });
            }
            _ => {
                let missing: Vec<&str> = mine
                    .iter()
                    .filter(|it| !dir.join(&it.output).join("result.json").is_file())
                    .map(|it| it.scenario.as_str())
                    .collect();
                problems.push(format!(
                    "shard {i}/{count} in {} did not finish: {} of its {} scenario(s) have results{}; \
                     run it again with --resume to finish it",
                    dir.display(),
                    mine.len() - missing.len(),
                    mine.len(),
                    if missing.is_empty() {
                        String::new()
                    } else {
                        format!(", missing: {}", some_of(&missing))
                    }
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(done)
    } else {
        Err(BatchError::Merge(problems.join("\n")))
    }
}

/// Copies a scenario's output folder from its shard into `out`.
fn copy_outputs(from_root: &Path, out: &Path, item: &Item) -> Result<(), BatchError> {
    let from = from_root.join(&item.output);
    if !from.is_dir() {
        return Ok(());
    }
    let listing = files_under(&from, |_| true)?;
    if let Some(rel) = listing.unreadable.first() {
        return Err(BatchError::Read {
            path: from.join(rel),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
    }
    for rel in listing.files {
        write(
            out,
            Path::new(&item.output).join(&rel),
            &read(&from.join(&rel))?,
        )?;
    }
    Ok(())
}

/// Joins the outputs of `revplan batch --shard I/N` for every I into one
/// folder, as a single run would have written it, plus `shards.json` with
/// each shard's record. The summary returned carries those records.
pub fn merge(shard_dirs: &[PathBuf], out: &Path) -> Result<Summary, BatchError> {
    if shard_dirs.is_empty() {
        return Err(BatchError::Usage("no shard folders given".into()));
    }
    if shard_dirs.iter().any(|d| d == out) {
        return Err(BatchError::Usage(format!(
            "--out {} is one of the shard folders: merge into a new folder",
            out.display()
        )));
    }
    let _lock = lock(out)?;
    let shards = manifests(shard_dirs)?;
    let Some((_, (_, first))) = shards.iter().next() else {
        return Err(BatchError::Usage("no shard folders given".into()));
    };
    let count = first.shard.map_or(1, |s| s.count);
    let owners = assign(&first.scenarios, count);
    let done = finished(&shards, first, &owners, count)?;
    let mut rows = Vec::new();
    for (item, owner) in first.scenarios.iter().zip(&owners) {
        let (dir, _) = &shards[owner];
        let mine: Vec<Row> = done[owner]
            .summary
            .rows
            .iter()
            .filter(|r| r.scenario == item.scenario)
            .cloned()
            .collect();
        if mine.is_empty() {
            return Err(BatchError::Merge(format!(
                "{}: the summary has no row for {}: was the folder changed after shard {owner}/{count} finished?",
                dir.display(),
                item.scenario
            )));
        }
        rows.extend(mine);
        copy_outputs(dir, out, item)?;
    }
    write_manifest(
        out,
        &Manifest {
            shard: None,
            ..first.clone()
        },
    )?;
    let mut summary = Summary::of(first.scenarios.len(), rows);
    write_summary(out, &summary)?;
    summary.shards = done.into_values().map(|f| f.record).collect();
    let text = serde_json::to_string_pretty(&summary.shards).unwrap_or_default() + "\n";
    write(out, SHARDS_FILE, text.as_bytes())?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(w: u64) -> Item {
        Item {
            scenario: String::new(),
            output: String::new(),
            work_ms: w,
            file: PathBuf::new(),
        }
    }

    #[test]
    fn shards_split_evenly_and_cover_everything_once() {
        assert!("3/3".parse::<Shard>().is_err());
        assert!("1/0".parse::<Shard>().is_err());
        assert!("x/2".parse::<Shard>().is_err());
        // Unweighed scenarios go round in turn.
        let even: Vec<Item> = (0..10).map(|_| item(0)).collect();
        assert_eq!(assign(&even, 3), [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
        // One big scenario and many small ones: the big one alone.
        let mut mixed: Vec<Item> = (0..11).map(|_| item(100)).collect();
        mixed.insert(4, item(2_000));
        let owners = assign(&mixed, 2);
        let big = owners[4];
        assert!(
            owners
                .iter()
                .enumerate()
                .all(|(i, o)| (i == 4) == (*o == big))
        );
    }

    #[test]
    fn long_lists_are_cut() {
        assert_eq!(some_of(&["a", "b"]), "a, b");
        assert_eq!(
            some_of(&["a", "b", "c", "d", "e", "f", "g"]),
            "a, b, c, d, e and 2 more"
        );
    }

    proptest::proptest! {
        /// Longest-first to the least loaded: every scenario in one shard,
        /// and no shard above the mean by more than the largest scenario.
        #[test]
        fn shards_cover_everything_once_and_balance(
            works in proptest::collection::vec(0u64..10_000, 1..40),
            count in 1usize..6,
        ) {
            let items: Vec<Item> = works.iter().map(|w| item(*w)).collect();
            let owners = assign(&items, count);
            proptest::prop_assert!(owners.iter().all(|o| *o < count));
            let mut load = vec![0u64; count];
            for (w, o) in works.iter().zip(&owners) {
                load[*o] += w;
            }
            let total: u64 = works.iter().sum();
            let biggest = works.iter().copied().max().unwrap_or(0);
            let most = load.iter().copied().max().unwrap_or(0);
            proptest::prop_assert!(most * count as u64 <= total + biggest * count as u64);
            proptest::prop_assert_eq!(owners.clone(), assign(&items, count));
        }
    }
}
