//! Installing packages with the system `npm`: `mcp-conductor packages add|list|remove` and the
//! startup install of `MCP_CONDUCTOR_PACKAGES`. Always `--ignore-scripts` (an install script would
//! run arbitrary code on the host) and `--omit=dev`, under an exclusive lock on
//! `<packages>/.mcp-conductor.lock` so replicas sharing one root never install at once. npm's
//! output goes to stderr: stdout may be the JSON-RPC stream.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::spec::{self, PackageRef};

const LOCK_FILE: &str = ".mcp-conductor.lock";
const NPM_FLAGS: [&str; 6] =
    ["--ignore-scripts", "--omit=dev", "--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error"];

/// Why an install failed, in words that say what to do.
#[derive(Debug)]
pub struct InstallError(pub String);

impl std::fmt::Display for InstallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InstallError {}

/// An installed package as `packages list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub range: String,
    pub installed: Option<String>,
}

/// Creates the directory and a minimal `package.json` when missing.
fn ensure_dir(dir: &Path) -> Result<(), InstallError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| InstallError(format!("cannot create the packages directory {}: {e}", dir.display())))?;
    let manifest = dir.join("package.json");
    if !manifest.exists() {
        let text = "{\n  \"private\": true,\n  \"description\": \"Packages code run by mcp-conductor may import (mcp-conductor packages add <name>)\",\n  \"dependencies\": {}\n}\n";
        std::fs::write(&manifest, text)
            .map_err(|e| InstallError(format!("cannot write {}: {e}", manifest.display())))?;
    }
    Ok(())
}

/// JSR packages are npm packages of this scope, served by JSR's npm registry.
const JSR_SCOPE: &str = "@jsr/";
const JSR_REGISTRY_LINE: &str = "@jsr:registry=https://npm.jsr.io";

/// `<dir>/.npmrc` sends the `@jsr` scope to JSR's npm registry (as `npx jsr add` does): without
/// it npm asks registry.npmjs.org, which answers 404 for `@jsr/...`.
fn ensure_jsr_registry(dir: &Path) -> Result<(), InstallError> {
    let npmrc = dir.join(".npmrc");
    let text = match std::fs::read_to_string(&npmrc) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(InstallError(format!("cannot read {}: {e}", npmrc.display()))),
    };
    if text.lines().any(|line| line.trim_start().starts_with("@jsr:registry")) {
        return Ok(());
    }
    let separator = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
    std::fs::write(&npmrc, format!("{text}{separator}{JSR_REGISTRY_LINE}\n"))
        .map_err(|e| InstallError(format!("cannot write {} (JSR's npm registry for jsr: packages): {e}", npmrc.display())))
}

/// Holds `<dir>/.mcp-conductor.lock` exclusively (flock) until dropped, waiting up to `wait`.
struct DirLock {
    _file: File,
}

impl DirLock {
    fn acquire(dir: &Path, wait: Duration) -> Result<DirLock, InstallError> {
        let path = dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| InstallError(format!("cannot open the lock file {}: {e}", path.display())))?;
        let start = Instant::now();
        loop {
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(DirLock { _file: file });
            }
            if start.elapsed() >= wait {
                return Err(InstallError(format!(
                    "another install holds {} (another replica or `mcp-conductor packages`); waited {} s",
                    path.display(),
                    wait.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Runs `npm <args> --prefix <dir> <flags>` with its output on stderr, killed after `timeout`.
fn npm(dir: &Path, args: &[&str], timeout: Duration) -> Result<(), InstallError> {
    let mut command = Command::new("npm");
    command
        .args(args)
        .arg("--prefix")
        .arg(dir)
        .args(NPM_FLAGS)
        .stdin(Stdio::null())
        .stdout(stderr_stdio())
        .stderr(Stdio::inherit());
    let shown = format!("npm {} --prefix {} {}", args.join(" "), dir.display(), NPM_FLAGS.join(" "));
    let mut child = command.spawn().map_err(|e| {
        InstallError(format!(
            "cannot run npm ({e}): installing packages needs Node.js's npm on PATH (Debian: apt-get install npm)"
        ))
    })?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(InstallError(format!("`{shown}` failed ({status}); see its output above"))),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(InstallError(format!(
                    "`{shown}` did not finish within {} s (MCP_CONDUCTOR_PACKAGES_TIMEOUT) and was stopped",
                    timeout.as_secs()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(InstallError(format!("waiting for npm: {e}"))),
        }
    }
}

/// npm's stdout joins our stderr.
fn stderr_stdio() -> Stdio {
    match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    }
}

/// The npm argument for a package: `name@range`, `name` for any version.
fn npm_spec(package: &PackageRef) -> String {
    match package.req_text() {
        Some(range) => format!("{}@{range}", package.name),
        None => package.name.clone(),
    }
}

/// Parses every spec first, so one bad spec installs nothing.
pub fn parse_all(specs: &[String]) -> Result<Vec<PackageRef>, InstallError> {
    specs.iter().map(|s| spec::parse_install(s).map_err(InstallError)).collect()
}

/// `packages add`: installs (or changes the version of) each package.
pub fn add(dir: &Path, packages: &[PackageRef], timeout: Duration) -> Result<(), InstallError> {
    if packages.is_empty() {
        return Err(InstallError("name at least one package, e.g. `mcp-conductor packages add zod@^3.23`".into()));
    }
    ensure_dir(dir)?;
    let _lock = DirLock::acquire(dir, timeout)?;
    if packages.iter().any(|p| p.name.starts_with(JSR_SCOPE)) {
        ensure_jsr_registry(dir)?;
    }
    let specs: Vec<String> = packages.iter().map(npm_spec).collect();
    let mut args = vec!["install", "--save", "--save-exact"];
    args.extend(specs.iter().map(String::as_str));
    npm(dir, &args, timeout)
}

/// `packages remove`.
pub fn remove(dir: &Path, names: &[String], timeout: Duration) -> Result<(), InstallError> {
    let listed = list(dir)?;
    for name in names {
        if !listed.iter().any(|p| &p.name == name) {
            return Err(InstallError(format!("'{name}' is not in {}", dir.join("package.json").display())));
        }
    }
    let _lock = DirLock::acquire(dir, timeout)?;
    let mut args = vec!["uninstall", "--save"];
    args.extend(names.iter().map(String::as_str));
    npm(dir, &args, timeout)
}

/// `packages list`: what `package.json` allows, with the installed versions.
pub fn list(dir: &Path) -> Result<Vec<Listed>, InstallError> {
    let deps = match super::read_dependencies(&dir.join("package.json")) {
        Ok(deps) => deps,
        Err(None) => return Ok(Vec::new()),
        Err(Some(problem)) => return Err(InstallError(problem)),
    };
    let node_modules = dir.join("node_modules");
    Ok(deps
        .into_iter()
        .map(|(name, range)| Listed { installed: super::installed_version(&node_modules, &name), name, range })
        .collect())
}

/// At startup (`MCP_CONDUCTOR_PACKAGES`): installs those that are missing or whose installed
/// version does not satisfy the listed range, in one npm run. Returns what it installed.
pub fn ensure(dir: &Path, wanted: &[PackageRef], timeout: Duration) -> Result<Vec<String>, InstallError> {
    let listed = list(dir).unwrap_or_default();
    let node_modules = dir.join("node_modules");
    let missing: Vec<PackageRef> = wanted
        .iter()
        .filter(|p| {
            let allowed = listed.iter().any(|l| l.name == p.name);
            let installed = super::installed_version(&node_modules, &p.name);
            !(allowed && installed.is_some_and(|v| satisfies(p, &v)))
        })
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    add(dir, &missing, timeout)?;
    Ok(missing.iter().map(npm_spec).collect())
}

/// Whether an installed `version` satisfies the package's requirement (a tag: any version).
pub fn satisfies(package: &PackageRef, version: &str) -> bool {
    let Some(req) = &package.req else { return true };
    if req.tag().is_some() {
        return true;
    }
    deno_semver::Version::parse_from_npm(version).is_ok_and(|v| req.matches(&v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsr_packages_get_jsrs_registry_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".npmrc"), "fund=false").unwrap();
        ensure_jsr_registry(dir.path()).unwrap();
        ensure_jsr_registry(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(".npmrc")).unwrap();
        assert_eq!(text, format!("fund=false\n{JSR_REGISTRY_LINE}\n"));
    }

    #[test]
    fn ranges_and_tags() {
        let p = spec::parse_install("zod@^3.23").unwrap();
        assert!(satisfies(&p, "3.23.8"));
        assert!(!satisfies(&p, "4.0.0"));
        assert!(satisfies(&spec::parse_install("zod@latest").unwrap(), "4.1.0"));
        assert!(satisfies(&spec::parse_install("zod").unwrap(), "0.0.1"));
        assert_eq!(npm_spec(&spec::parse_install("jsr:@std/path@^1").unwrap()), "@jsr/std__path@^1");
    }

    #[test]
    fn list_reads_package_json_and_installed_versions() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list(dir.path()).unwrap().is_empty());
        ensure_dir(dir.path()).unwrap();
        std::fs::write(dir.path().join("package.json"), r#"{"dependencies":{"ms":"^2.1.3","gone":"1"}}"#).unwrap();
        std::fs::create_dir_all(dir.path().join("node_modules/ms")).unwrap();
        std::fs::write(dir.path().join("node_modules/ms/package.json"), r#"{"name":"ms","version":"2.1.3"}"#).unwrap();
        let listed = list(dir.path()).unwrap();
        assert_eq!(
            listed,
            [
                Listed { name: "gone".into(), range: "1".into(), installed: None },
                Listed { name: "ms".into(), range: "^2.1.3".into(), installed: Some("2.1.3".into()) },
            ]
        );
    }

    #[test]
    fn lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::acquire(dir.path(), Duration::ZERO).unwrap();
        let e = DirLock::acquire(dir.path(), Duration::ZERO).err().expect("second holder refused");
        assert!(e.0.contains("another install holds"), "{e}");
        drop(held);
        DirLock::acquire(dir.path(), Duration::ZERO).unwrap();
    }
}
