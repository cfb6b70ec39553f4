//! Return values too large to send inline (above `MCP_CONDUCTOR_MAX_RETURN_BYTES`), kept on the
//! server's disk for the client's user: `<results dir>/<client>/result-<ms>-<unique>.json`.
//!
//! - Out of code's reach: the directory (`MCP_CONDUCTOR_RESULTS_DIR`) is outside the workspace
//!   (`Config::prepare_workspace` refuses a layout where it is not) and on the server-owned deny
//!   lists (`server_owned` in lib.rs), so no `allow-read`/`allow-write` grant reaches it, whichever
//!   client's result it holds. The MCP server exposes no resources: the note in `returnValue`
//!   and `returnValueFile` name a path on the server's filesystem.
//! - One subdirectory per client ([`ClientId`]): `stdio` for the stdio transport, `session-<id>`
//!   per HTTP session (each stateless HTTP request is a client of its own).
//! - Deleted after `MCP_CONDUCTOR_RESULTS_TTL` (swept at every write and by a sweeper thread), and
//!   never more than `MCP_CONDUCTOR_RESULTS_MAX_BYTES` in all: to make room the oldest files go
//!   first; a value larger than the whole quota is refused with an error naming the variable.
//!   Only names this module writes are ever deleted (`stdio`/`session-*` directories,
//!   `result-*.json` files), so a misconfigured directory loses nothing else.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::result::{ErrorType, Failure};

const STDIO: &str = "stdio";
const SESSION_PREFIX: &str = "session-";

/// Who a result belongs to: its directory's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(Arc<str>);

impl ClientId {
    /// The one client of the stdio transport.
    pub fn stdio() -> ClientId {
        ClientId(Arc::from(STDIO))
    }

    /// A new client (an HTTP session): a name unique across calls, processes and replicas.
    pub fn fresh() -> ClientId {
        ClientId(Arc::from(format!("{SESSION_PREFIX}{}", crate::unique::unique_suffix())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ClientId {
    fn default() -> Self {
        ClientId::stdio()
    }
}

/// Whether a directory name is one [`ClientId`] makes (only those are swept).
fn is_client_dir(name: &str) -> bool {
    name == STDIO
        || name
            .strip_prefix(SESSION_PREFIX)
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'))
}

fn is_result_file(name: &str) -> bool {
    name.starts_with("result-") && name.ends_with(".json")
}

/// `12 s`, `5 min`, `1 h`, `250 ms`: how long results are kept, for the note.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 3_600_000 && ms % 3_600_000 == 0 {
        format!("{} h", ms / 3_600_000)
    } else if ms >= 60_000 && ms % 60_000 == 0 {
        format!("{} min", ms / 60_000)
    } else if ms >= 1000 && ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// The results directory, its time to live and its quota.
#[derive(Debug)]
pub struct ResultStore {
    dir: PathBuf,
    ttl: Duration,
    max_bytes: u64,
    /// One sweep or write at a time in this process, so the quota sees every file. (Replicas
    /// sharing the directory each keep to the quota as they see it.)
    lock: Mutex<()>,
}

/// A result file still there after a sweep.
struct Kept {
    path: PathBuf,
    modified: SystemTime,
    bytes: u64,
}

/// Deletes a file; true when it is gone (already gone included).
fn remove(path: &Path) -> bool {
    match std::fs::remove_file(path) {
        Ok(()) => true,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

impl ResultStore {
    /// `dir` should exist already (the configuration creates it, mode 0700, before the sandbox's
    /// deny lists are made from its real path); it is created again when missing.
    pub fn new(dir: PathBuf, ttl: Duration, max_bytes: u64) -> ResultStore {
        ResultStore { dir, ttl, max_bytes, lock: Mutex::new(()) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Sweeps now and then every half TTL (250 ms to 60 s) on a thread of its own, until the
    /// store is dropped, so expired results go even when no new one is written.
    pub fn start_sweeper(self: &Arc<Self>) {
        let store = Arc::downgrade(self);
        let every = (self.ttl / 2).clamp(Duration::from_millis(250), Duration::from_secs(60));
        let spawned = std::thread::Builder::new().name("mcp-results-sweeper".into()).spawn(move || {
            while let Some(live) = store.upgrade() {
                live.sweep();
                drop(live);
                std::thread::sleep(every);
            }
        });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the results sweeper thread ({e}): expired results are deleted at each write only");
        }
    }

    /// Deletes expired results and empty client directories.
    pub fn sweep(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.sweep_locked(SystemTime::now());
    }

    /// Deletes expired result files and client directories left empty; returns the files kept.
    fn sweep_locked(&self, now: SystemTime) -> Vec<Kept> {
        let mut kept = Vec::new();
        let Ok(clients) = std::fs::read_dir(&self.dir) else { return kept };
        for client in clients.flatten() {
            let ours = client.file_name().to_str().is_some_and(is_client_dir);
            // `file_type` does not follow symlinks: a link is never one of ours.
            if !ours || !client.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let dir = client.path();
            let Ok(files) = std::fs::read_dir(&dir) else { continue };
            let mut left = 0usize;
            for file in files.flatten() {
                let is_ours = file.file_name().to_str().is_some_and(is_result_file)
                    && file.file_type().is_ok_and(|t| t.is_file());
                if !is_ours {
                    left += 1;
                    continue;
                }
                let Ok(meta) = file.metadata() else { continue }; // deleted meanwhile
                let path = file.path();
                let modified = meta.modified().unwrap_or(now);
                let expired = now.duration_since(modified).is_ok_and(|age| age >= self.ttl);
                if expired && remove(&path) {
                    tracing::debug!(path = %path.display(), "expired large result deleted (MCP_CONDUCTOR_RESULTS_TTL)");
                    continue;
                }
                left += 1;
                kept.push(Kept { path, modified, bytes: meta.len() });
            }
            if left == 0 {
                // Fails harmlessly when a file arrived meanwhile (another replica).
                let _ = std::fs::remove_dir(&dir);
            }
        }
        kept
    }

    /// Writes `text` (a return value's JSON) as a new result of `client`; returns its path. Sweeps
    /// first, then deletes the oldest results until the new one fits the quota.
    pub fn spill(&self, client: &ClientId, text: &str) -> Result<PathBuf, Failure> {
        let bytes = text.len() as u64;
        if bytes > self.max_bytes {
            return Err(Failure::new(
                ErrorType::Limit,
                format!(
                    "The return value ({bytes} bytes) is larger than MCP_CONDUCTOR_MAX_RETURN_BYTES allows inline, and \
                     larger than all the space kept for large results, MCP_CONDUCTOR_RESULTS_MAX_BYTES ({} bytes): \
                     return less (a summary, or the part that matters), or have the administrator raise \
                     MCP_CONDUCTOR_RESULTS_MAX_BYTES",
                    self.max_bytes
                ),
            ));
        }
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut kept = self.sweep_locked(SystemTime::now());
        let mut total: u64 = kept.iter().map(|k| k.bytes).sum();
        if total.saturating_add(bytes) > self.max_bytes {
            kept.sort_by_key(|k| k.modified);
            for old in &kept {
                if total.saturating_add(bytes) <= self.max_bytes {
                    break;
                }
                if remove(&old.path) {
                    total = total.saturating_sub(old.bytes);
                    tracing::info!(
                        path = %old.path.display(),
                        "large result deleted before its time to make room (MCP_CONDUCTOR_RESULTS_MAX_BYTES)"
                    );
                }
            }
        }
        if total.saturating_add(bytes) > self.max_bytes {
            return Err(Failure::new(
                ErrorType::Limit,
                format!(
                    "The return value ({bytes} bytes) is too large to send, and the space for large results is full: \
                     {total} of MCP_CONDUCTOR_RESULTS_MAX_BYTES ({} bytes) are held by results that could not be \
                     deleted. Return less, or have the administrator raise MCP_CONDUCTOR_RESULTS_MAX_BYTES",
                    self.max_bytes
                ),
            ));
        }
        let stamp = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let dir = self.dir.join(client.as_str());
        let path = dir.join(format!("result-{stamp}-{}.json", crate::unique::unique_suffix()));
        write_new(&dir, &path, text).map_err(|e| {
            Failure::new(
                ErrorType::Runtime,
                format!("The return value ({bytes} bytes) is too large to send and could not be written to {}: {e}", path.display()),
            )
        })?;
        Ok(path)
    }
}

/// Creates `dir` (0700) and the new file `path` (0600) holding `text`. Tried twice: another
/// replica sweeping the same directory may remove `dir` between the two steps when it was empty.
fn write_new(dir: &Path, path: &Path, text: &str) -> std::io::Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
        let mut file = match file {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 2 => continue,
            Err(e) => return Err(e),
        };
        let written = file.write_all(text.as_bytes()).and_then(|()| file.flush());
        if written.is_err() {
            let _ = std::fs::remove_file(path);
        }
        return written;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut all = Vec::new();
        for client in std::fs::read_dir(dir).unwrap().flatten() {
            if client.path().is_dir() {
                all.extend(std::fs::read_dir(client.path()).unwrap().flatten().map(|f| f.path()));
            }
        }
        all
    }

    #[test]
    fn one_directory_per_client_and_private_modes() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let store = ResultStore::new(tmp.path().to_path_buf(), Duration::from_secs(60), 1 << 20);
        let (a, b) = (ClientId::fresh(), ClientId::fresh());
        assert_ne!(a, b);
        let pa = store.spill(&a, "[1]").unwrap();
        let pb = store.spill(&b, "[2]").unwrap();
        let ps = store.spill(&ClientId::stdio(), "[3]").unwrap();
        assert_eq!(pa.parent().unwrap().file_name().unwrap().to_str().unwrap(), a.as_str());
        assert_eq!(pb.parent().unwrap().file_name().unwrap().to_str().unwrap(), b.as_str());
        assert_eq!(ps.parent().unwrap(), tmp.path().join("stdio"));
        assert_eq!(std::fs::read_to_string(&pa).unwrap(), "[1]");
        assert_eq!(std::fs::metadata(&pa).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(pa.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        assert!(is_client_dir(a.as_str()) && is_client_dir("stdio") && !is_client_dir("session-") && !is_client_dir("playbooks"));
    }

    #[test]
    fn expired_results_and_empty_directories_go() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ResultStore::new(tmp.path().to_path_buf(), Duration::from_millis(50), 1 << 20);
        let path = store.spill(&ClientId::stdio(), "[1]").unwrap();
        // Not ours: never deleted, whatever its age.
        std::fs::write(tmp.path().join("stdio/notes.txt"), "keep").unwrap();
        std::fs::create_dir(tmp.path().join("other")).unwrap();
        std::thread::sleep(Duration::from_millis(120));
        store.sweep();
        assert!(!path.exists());
        assert!(tmp.path().join("stdio/notes.txt").exists());
        assert!(tmp.path().join("other").is_dir());
        std::fs::remove_file(tmp.path().join("stdio/notes.txt")).unwrap();
        store.sweep();
        assert!(!tmp.path().join("stdio").exists(), "an empty client directory is removed");
    }

    #[test]
    fn the_quota_deletes_the_oldest_first_and_refuses_what_cannot_fit() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ResultStore::new(tmp.path().to_path_buf(), Duration::from_secs(3600), 250);
        let text = "x".repeat(100);
        let first = store.spill(&ClientId::fresh(), &text).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let second = store.spill(&ClientId::stdio(), &text).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let third = store.spill(&ClientId::stdio(), &text).unwrap();
        assert!(!first.exists(), "the oldest made room");
        assert!(second.exists() && third.exists());
        let total: u64 = files(tmp.path()).iter().map(|f| std::fs::metadata(f).unwrap().len()).sum();
        assert!(total <= 250, "{total}");
        let refused = store.spill(&ClientId::stdio(), &"y".repeat(251)).unwrap_err();
        assert_eq!(refused.error_type, ErrorType::Limit);
        assert!(refused.message.contains("MCP_CONDUCTOR_RESULTS_MAX_BYTES"), "{}", refused.message);
        assert!(second.exists() && third.exists(), "a refused value deletes nothing");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_secs(3600)), "1 h");
        assert_eq!(human_duration(Duration::from_secs(300)), "5 min");
        assert_eq!(human_duration(Duration::from_secs(12)), "12 s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1500 ms");
    }
}
