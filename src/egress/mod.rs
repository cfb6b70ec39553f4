//! Egress policy: which hosts, methods and paths code may reach, and credentials the server adds
//! to those requests itself, so code never holds them (`MCP_CONDUCTOR_EGRESS`, docs/egress.md).
//!
//! - [`policy`]: the file format, validation, the decision for one request.
//! - this module: the file as the server sees it over time (read at startup, re-read when it
//!   changes, between executions, never during one), and what it narrows: `allow-net` becomes
//!   the hosts both `MCP_CONDUCTOR_RUN_ARGS` and the policy allow, so every route out of the
//!   sandbox (fetch, WebSocket, `Deno.connect`, `node:net`/`http`/`https`, QUIC, DNS-named
//!   imports) is held to the policy's hosts by Deno's own permission check.
//! - `sandbox/egress_gate.rs`: the per-request checks below JavaScript (methods, paths,
//!   credentials) for `fetch` and WebSocket handshakes, on the execution thread.
//!
//! Credentials in `${NAME}` placeholders come from variables the server takes out of its
//! environment at startup (`secret_env`): code never sees them, even with `allow-env`.

pub mod policy;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use policy::{Decision, Policy, Rule};

use crate::file_stamp::{Stamp, stamp};
use crate::run_args::{Grant, Kind, RunArgs};
use crate::sandbox::{PermissionSet, ServerOwned};

/// Variables taken out of the environment at startup (see `secret_env`).
struct TakenSecrets;

impl policy::SecretSource for TakenSecrets {
    fn variable(&self, name: &str) -> Option<String> {
        crate::secret_env::taken_egress(name)
    }
}

/// Reads and validates the policy file.
pub fn load(path: &Path) -> Result<Policy, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("MCP_CONDUCTOR_EGRESS: cannot read {}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("/"));
    Policy::parse(&text, base, &TakenSecrets).map_err(|e| format!("MCP_CONDUCTOR_EGRESS {}: {e}", path.display()))
}

/// A policy and the permissions it narrows `MCP_CONDUCTOR_RUN_ARGS` to.
pub struct InForce {
    pub policy: Arc<Policy>,
    /// The narrowed flags (what the `PERMISSIONS` global shows).
    pub run_args: RunArgs,
    pub permissions: PermissionSet,
}

/// The policy in effect, re-read when its file changes.
pub struct Egress {
    path: PathBuf,
    run_args: RunArgs,
    /// The server-owned files, with the policy file and its credential files added.
    owned: ServerOwned,
    /// Credential files named at startup: the only ones a reload may read (they are hidden from
    /// code from the start; a file named later would not be).
    startup_files: Vec<PathBuf>,
    /// The stamps the policy in force was read with ([`stamps`]), and the policy.
    current: Mutex<(Vec<Stamp>, Arc<InForce>)>,
}

impl Egress {
    /// Reads the file: a missing or invalid file is a startup error. The policy file and the
    /// credential files it names join `owned` (code can never read them).
    pub fn new(path: PathBuf, run_args: &RunArgs, mut owned: ServerOwned) -> Result<Egress, String> {
        let policy = load(&path)?;
        owned.add_with_projected_volume(path.clone());
        for file in &policy.credential_files {
            owned.add_with_projected_volume(file.clone());
        }
        let in_force = Self::in_force(policy, run_args, &owned)?;
        tracing::info!(rules = in_force.policy.rules.len(), "egress policy read: {}", path.display());
        if !run_args.allow.contains_key(&Kind::Net) {
            tracing::warn!("egress policy has no effect: MCP_CONDUCTOR_RUN_ARGS grants no net access");
        }
        let stamps = stamps(&path, &in_force.policy);
        Ok(Egress {
            startup_files: in_force.policy.credential_files.clone(),
            path,
            run_args: run_args.clone(),
            owned,
            current: Mutex::new((stamps, Arc::new(in_force))),
        })
    }

    fn in_force(policy: Policy, run_args: &RunArgs, owned: &ServerOwned) -> Result<InForce, String> {
        let run_args = narrow(run_args, &policy);
        let permissions = PermissionSet::new(&run_args, owned).map_err(|e| e.to_string())?;
        Ok(InForce { policy: Arc::new(policy), run_args, permissions })
    }


    /// The server-owned files including the policy's (for the sandbox's own permission set).
    pub fn owned(&self) -> &ServerOwned {
        &self.owned
    }

    /// The policy for the next execution: re-read if the file changed. A file that became
    /// invalid or unreadable keeps the last good policy (with an error in the log): a typo
    /// during an edit must not open the sandbox, nor close it.
    ///
    /// A file is taken only once it has settled: unchanged while it was read and last modified
    /// at least [`SETTLE`] ago, so a file being written in place (`cat >`, an editor) is not
    /// read half-way, where a cut before `methods:` would allow every method. Until then the
    /// previous policy stays and the next execution looks again.
    pub fn current(&self) -> Arc<InForce> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let before = stamps(&self.path, &current.1.policy);
        if before != current.0 && settled(&before) {
            let reloaded = load(&self.path).and_then(|policy| {
                if stamps(&self.path, &current.1.policy) != before {
                    return Err(RETRY.to_string());
                }
                if let Some(file) = policy.credential_files.iter().find(|f| !self.startup_files.contains(f)) {
                    return Err(format!(
                        "credential file {} was not named when the server started (restart the server to use it: \
                         only files named at startup are hidden from code)",
                        file.display()
                    ));
                }
                Self::in_force(policy, &self.run_args, &self.owned)
            });
            match reloaded {
                Ok(in_force) => {
                    tracing::info!(rules = in_force.policy.rules.len(), "egress policy re-read (changed): {}", self.path.display());
                    current.0 = stamps(&self.path, &in_force.policy);
                    current.1 = Arc::new(in_force);
                }
                Err(e) if e == RETRY => {}
                Err(e) => {
                    current.0 = before;
                    tracing::error!("egress policy not reloaded, the previous one stays in effect: {e}");
                }
            }
        }
        current.1.clone()
    }
}

/// The stamps of the policy file at `path` and of the credential files `policy` reads (a rotated
/// Secret is picked up without touching the policy).
fn stamps(path: &Path, policy: &Policy) -> Vec<Stamp> {
    std::iter::once(path).chain(policy.credential_files.iter().map(PathBuf::as_path)).map(stamp).collect()
}

/// How long a changed file must stay unchanged before it is read (see [`Egress::current`]).
const SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

const RETRY: &str = "changed while it was read";

fn settled(stamps: &[Stamp]) -> bool {
    let now = std::time::SystemTime::now();
    stamps.iter().flatten().all(|(modified, _, _)| now.duration_since(*modified).is_ok_and(|age| age >= SETTLE))
}

/// `args` with `allow-net` and `allow-import` narrowed to what `policy` allows too (see the module docs). The
/// result never grants a host `args` did not.
pub fn narrow(args: &RunArgs, policy: &Policy) -> RunArgs {
    let mut narrowed = args.clone();
    let wanted = policy.net_descriptors();
    // Remote imports are checked against `allow-import`, not `allow-net`: both are held to
    // the policy's hosts, or `import('https://elsewhere/?' + data)` would be a way out.
    for kind in [Kind::Net, Kind::Import] {
        let allowed = match args.allow.get(&kind) {
            None => continue,
            Some(Grant::All) => wanted.clone(),
            Some(Grant::Only(granted)) => intersect(granted, &wanted),
        };
        if allowed.is_empty() {
            narrowed.allow.remove(&kind);
        } else {
            narrowed.allow.insert(kind, Grant::Only(allowed));
        }
    }
    narrowed
}

/// `host[:port]` (IPv6 in brackets) → (host pattern, port).
fn split_entry(entry: &str) -> Option<(policy::HostPattern, Option<u16>)> {
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else if entry.matches(':').count() == 1 {
        let (host, port) = entry.split_once(':')?;
        (host, Some(port))
    } else {
        (entry, None)
    };
    let port = match port {
        Some(p) => Some(p.parse().ok()?),
        None => None,
    };
    Some((policy::HostPattern::parse(host).ok()?, port))
}

/// Entries both lists allow: a policy entry that a granted entry covers, and a granted entry a
/// policy entry covers (with the policy's port).
fn intersect(granted: &[String], wanted: &[String]) -> Vec<String> {
    use policy::HostPattern::{Domain, Exact};
    let covers = |outer: &policy::HostPattern, inner: &policy::HostPattern| match (outer, inner) {
        (Exact(a), Exact(b)) => a == b,
        (Domain(d), Exact(b)) | (Domain(d), Domain(b)) => b == d || b.ends_with(&format!(".{d}")),
        (Exact(_), Domain(_)) => false,
    };
    let mut out: Vec<String> = Vec::new();
    let mut push = |entry: String| {
        if !out.contains(&entry) {
            out.push(entry);
        }
    };
    for want in wanted {
        let Some((want_host, Some(want_port))) = split_entry(want) else { continue };
        for grant in granted {
            let Some((grant_host, grant_port)) = split_entry(grant) else { continue };
            if grant_port.is_some_and(|p| p != want_port) {
                continue;
            }
            if covers(&grant_host, &want_host) {
                push(want.clone());
            } else if covers(&want_host, &grant_host) {
                push(format!("{}:{want_port}", grant_host.descriptor()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str]) -> Policy {
        let rules: Vec<String> = hosts.iter().map(|h| format!("  - host: '{h}'\n")).collect();
        Policy::parse(&format!("rules:\n{}", rules.concat()), Path::new("/"), &TakenSecrets).unwrap()
    }

    fn net(args: &RunArgs) -> Option<Grant> {
        args.allow.get(&Kind::Net).cloned()
    }

    #[test]
    fn narrowing_never_widens() {
        let p = policy(&["api.github.com", "*.example.com"]);
        let all = RunArgs::parse("allow-net").unwrap();
        assert_eq!(net(&narrow(&all, &p)), Some(Grant::Only(vec!["api.github.com:443".into(), "*.example.com:443".into()])));
        let none = RunArgs::parse("").unwrap();
        assert_eq!(net(&narrow(&none, &p)), None, "no net granted, none after");
        let some = RunArgs::parse("allow-net=api.github.com,a.example.com:8443,b.example.com,other.org").unwrap();
        assert_eq!(
            net(&narrow(&some, &p)),
            Some(Grant::Only(vec!["api.github.com:443".into(), "b.example.com:443".into()])),
            "a port the policy does not name is dropped; other.org is not in the policy"
        );
        let wide = RunArgs::parse("allow-net=*.github.com").unwrap();
        assert_eq!(net(&narrow(&wide, &p)), Some(Grant::Only(vec!["api.github.com:443".into()])));
        let v6 = policy(&["[::1]"]);
        let granted = RunArgs::parse("allow-net=[::1]").unwrap();
        assert_eq!(net(&narrow(&granted, &v6)), Some(Grant::Only(vec!["[::1]:443".into()])), "IPv6 bracketed once");
        let disjoint = RunArgs::parse("allow-net=other.org").unwrap();
        assert_eq!(net(&narrow(&disjoint, &p)), None, "nothing in common: no net at all");
        let everything = RunArgs::parse("allow-all").unwrap();
        let narrowed = narrow(&everything, &p);
        assert_eq!(narrowed.allow.get(&Kind::Import), narrowed.allow.get(&Kind::Net), "imports too");
        assert_eq!(net(&narrowed), Some(Grant::Only(vec!["api.github.com:443".into(), "*.example.com:443".into()])));
    }
}
