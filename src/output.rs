//! Writing outputs: every file revplan writes goes through here. A regular
//! file is replaced atomically — through a temporary created exclusively
//! beside it (a random name, never through a link), with the old file's
//! permissions, synced, then renamed — so that an interrupted run never
//! leaves a half-written file and a planted link never redirects a write.
//! A device, a FIFO or `-` (stdout) is written directly, never replaced.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The suffix of revplan's temporary files: `.NAME.<random>.revplan-tmp`.
pub const TMP_SUFFIX: &str = ".revplan-tmp";

/// Temporaries older than this are left from a killed run and removed.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Whether links are followed when the target is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// A link to a regular file is kept and its target replaced (`--out`).
    Follow,
    /// A link is refused (batch output folders).
    Refuse,
}

/// Writes files into a folder (created if missing), each atomically;
/// returns their paths. Stale temporaries of an interrupted run in the
/// folder are removed first.
pub fn write_files(
    dir: &Path,
    files: &[(String, &[u8])],
) -> Result<Vec<PathBuf>, (PathBuf, std::io::Error)> {
    std::fs::create_dir_all(dir).map_err(|e| (dir.to_path_buf(), e))?;
    clean_stale(dir, STALE_AFTER);
    let mut out = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let path = dir.join(name);
        write_atomic(&path, bytes).map_err(|e| (path.clone(), e))?;
        out.push(path);
    }
    Ok(out)
}

/// Every chart as `<name>.svg` and `<name>.png`.
pub fn chart_files(charts: &[crate::chart::Chart]) -> Vec<(String, &[u8])> {
    charts
        .iter()
        .flat_map(|c| {
            [
                (format!("{}.svg", c.name), c.svg.as_bytes()),
                (format!("{}.png", c.name), c.png.as_slice()),
            ]
        })
        .collect()
}

/// Writes `bytes` to `path`: a regular file (or a new one) is replaced
/// atomically; a device or FIFO is written in place; a link to a regular
/// file has its target replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_with(path, bytes, Links::Follow)
}

/// [`write_atomic`] with a policy for links.
pub fn write_with(path: &Path, bytes: &[u8], links: Links) -> std::io::Result<()> {
    let mut target = path.to_path_buf();
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            if links == Links::Refuse {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "it is a link; revplan does not write through links here",
                ));
            }
            target = std::fs::canonicalize(path)?;
            if !std::fs::metadata(&target)?.is_file() {
                return write_in_place(&target, bytes);
            }
        }
        Ok(m) if m.is_dir() => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "it is a folder",
            ));
        }
        Ok(m) if !m.is_file() => return write_in_place(path, bytes),
        _ => {}
    }
    replace(&target, bytes)
}

/// Writes into a device, a FIFO or a socket as it is.
fn write_in_place(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).open(path)?;
    f.write_all(bytes)?;
    f.flush()
}

/// Replaces a regular file through an exclusive temporary beside it.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"))?
        .to_string_lossy()
        .into_owned();
    let (tmp, mut f) = create_temp(dir, &name)?;
    let result = (|| {
        if let Ok(old) = std::fs::metadata(path) {
            f.set_permissions(old.permissions())?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // The rename itself survives a crash once the folder is synced.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A new temporary file in `dir`, created exclusively (`O_EXCL`: never an
/// existing file or link) under a random name.
fn create_temp(dir: &Path, name: &str) -> std::io::Result<(PathBuf, File)> {
    let short: String = name.chars().take(100).collect();
    let mut last = None;
    for _ in 0..16 {
        let tag: u64 = rand::random();
        let tmp = dir.join(format!(".{short}.{tag:016x}{TMP_SUFFIX}"));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary name")))
}

/// Removes revplan's temporary files in `dir` older than `age` (left by a
/// run that was killed while writing). Never follows links.
pub fn clean_stale(dir: &Path, age: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(TMP_SUFFIX)) {
            continue;
        }
        let Ok(meta) = e.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|d| d >= age);
        if meta.is_file() && old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1);
    }

    #[test]
    fn stale_temporaries_are_removed_and_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(format!(".x.csv.0123{TMP_SUFFIX}"));
        std::fs::write(&stale, "half").unwrap();
        let other = dir.path().join(".keep.tmp");
        std::fs::write(&other, "not ours").unwrap();
        clean_stale(dir.path(), STALE_AFTER);
        assert!(stale.exists(), "a fresh temporary may be another run's");
        clean_stale(dir.path(), std::time::Duration::ZERO);
        assert!(!stale.exists());
        assert!(other.exists());
    }
}
