//! Fidelity: `run_deno_code` prints what `deno run` prints for the same code.
//!
//! Every case in tests/fidelity/cases runs through our server (zero permissions) and through the
//! real `deno run --no-config --quiet` of the release in tests/fidelity/DENO_VERSION (same V8),
//! in the same environment; stdout and stderr must be equal, byte for byte. Cases listed in
//! tests/fidelity/known_differences.txt must still differ (unless marked `~`, racy: either
//! outcome passes). See tests/fidelity/README.md.
//!
//! The deno binary is `MCP_CONDUCTOR_TEST_DENO`, else `deno` on PATH; without one the test fails
//! (it never passes by skipping). `MCP_CONDUCTOR_FIDELITY_ONLY=name,name` runs only those cases.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::Server;
use futures::StreamExt;
use serde_json::json;

const FIDELITY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fidelity");

/// Cases whose output depends on the process's time zone and locale: they also run in the
/// environment variants below.
const ENV_SENSITIVE: &[&str] =
    &["intl_defaults", "intl_navigator_language", "date_local_string", "date_parse", "number_tolocalestring"];

/// An environment both sides run in: a cleared environment plus a fresh HOME, PATH and `vars`.
struct Environment {
    /// "" for the main run; otherwise the suffix of the case's key (`case@label`).
    label: &'static str,
    vars: &'static [(&'static str, &'static str)],
    /// `None`: every case; otherwise only these.
    cases: Option<&'static [&'static str]>,
}

const ENVIRONMENTS: &[Environment] = &[
    Environment { label: "", vars: &[("TZ", "America/New_York"), ("LANG", "en_US.UTF-8")], cases: None },
    // What a bare container gives: no TZ, no LANG.
    Environment { label: "bare", vars: &[], cases: Some(ENV_SENSITIVE) },
    Environment {
        label: "de-kolkata",
        vars: &[("TZ", "Asia/Kolkata"), ("LANG", "de_DE.UTF-8")],
        cases: Some(ENV_SENSITIVE),
    },
];

/// Cases running at once (each on both sides).
const PARALLEL: usize = 4;
/// Per run, on each side.
const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_matches_deno_run() {
    let deno = reference_deno();
    let only: Option<BTreeSet<String>> = std::env::var("MCP_CONDUCTOR_FIDELITY_ONLY")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.split(',').map(|n| n.trim().trim_end_matches(".ts").to_string()).collect());
    let all = load_cases();
    for name in ENV_SENSITIVE {
        assert!(all.iter().any(|c| c.name == *name), "ENV_SENSITIVE names `{name}`, which is not a case");
    }
    let cases: Vec<Case> = all.into_iter().filter(|c| only.as_ref().is_none_or(|o| o.contains(&c.name))).collect();
    assert!(!cases.is_empty(), "no fidelity cases selected (MCP_CONDUCTOR_FIDELITY_ONLY={only:?})");
    let known = load_known_differences();

    let home = tempfile::tempdir().expect("tempdir for deno's HOME");
    let mut problems: Vec<String> = Vec::new();
    let mut matched_known: Vec<String> = Vec::new();
    let mut keys = BTreeSet::new();
    let mut runs = 0;

    for env in ENVIRONMENTS {
        let selected: Vec<&Case> =
            cases.iter().filter(|c| env.cases.is_none_or(|names| names.contains(&c.name.as_str()))).collect();
        if selected.is_empty() {
            continue;
        }
        let server = Server::start_env("", env.vars).await;
        let outcomes: Vec<(String, Result<(), String>)> = futures::stream::iter(selected)
            .map(|case| {
                let (server, deno, home) = (&server, &deno, home.path());
                async move {
                    let key = if env.label.is_empty() { case.name.clone() } else { format!("{}@{}", case.name, env.label) };
                    let (theirs, ours) = tokio::join!(run_deno(deno, &case.path, env.vars, home), run_ours(server, &case.code));
                    let verdict = compare(&theirs, &ours);
                    (key, verdict)
                }
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        drop(server);
        for (key, verdict) in outcomes {
            runs += 1;
            keys.insert(key.clone());
            match (verdict, known.get(&key)) {
                (Ok(()), None) => {}
                (Ok(()), Some(entry)) if entry.racy => {}
                (Ok(()), Some(Known { reason, .. })) => matched_known.push(format!(
                    "=== {key}\nnow matches `deno run`: remove its line from tests/fidelity/known_differences.txt (it said: {reason})"
                )),
                (Err(report), None) => problems.push(format!("=== {key}{}\n{report}", describe_env(env))),
                (Err(_), Some(_)) => {}
            }
        }
    }

    let stale: Vec<&String> = known
        .keys()
        .filter(|k| !keys.contains(*k))
        .filter(|k| only.is_none() || only.as_ref().is_some_and(|o| o.contains(k.split('@').next().unwrap())))
        .collect();
    for key in stale {
        problems.push(format!("=== {key}\nlisted in tests/fidelity/known_differences.txt but no such case ran"));
    }
    problems.extend(matched_known);

    let known_count = known.keys().filter(|k| keys.contains(*k)).count();
    println!("fidelity: {} cases, {runs} runs against {}, {known_count} known differences", cases.len(), deno.display());
    assert!(
        problems.is_empty(),
        "{} fidelity problem(s) in {runs} runs against `deno run` (diffs: `-` deno, `+` ours). Fix ours, or list the \
         case with its reason in tests/fidelity/known_differences.txt:\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

fn describe_env(env: &Environment) -> String {
    let vars: Vec<String> = env.vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(" (env: {})", if vars.is_empty() { "no TZ, no LANG".to_string() } else { vars.join(" ") })
}

struct Case {
    name: String,
    path: PathBuf,
    code: String,
}

fn load_cases() -> Vec<Case> {
    let dir = Path::new(FIDELITY_DIR).join("cases");
    let mut cases: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("ts" | "js")))
        .map(|path| Case {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            code: std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            path,
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

struct Known {
    reason: String,
    /// Listed as `~key`: the difference is a race, so a run that happens to match passes too.
    racy: bool,
}

/// known_differences.txt: `key reason…` (or `~key reason…`) per line; `#` comments and blank lines.
fn load_known_differences() -> BTreeMap<String, Known> {
    let path = Path::new(FIDELITY_DIR).join("known_differences.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut known = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        assert!(!reason.trim().is_empty(), "{}:{}: `{key}` needs a reason after its name", path.display(), n + 1);
        let (key, racy) = match key.strip_prefix('~') {
            Some(key) => (key, true),
            None => (key, false),
        };
        assert!(
            known.insert(key.to_string(), Known { reason: reason.trim().to_string(), racy }).is_none(),
            "{}:{}: `{key}` is listed twice",
            path.display(),
            n + 1
        );
    }
    known
}

/// The pinned deno, of the version in tests/fidelity/DENO_VERSION: `MCP_CONDUCTOR_TEST_DENO`,
/// else the one `scripts/setup.sh` installs from PyPI into `~/.cache/mcp-conductor/deno-<version>`,
/// else `deno` on PATH. Anything else fails the test.
fn reference_deno() -> PathBuf {
    let version_file = Path::new(FIDELITY_DIR).join("DENO_VERSION");
    let want = std::fs::read_to_string(&version_file).unwrap_or_else(|e| panic!("{}: {e}", version_file.display()));
    let want = want.trim();
    let help = format!(
        "the fidelity test needs the reference deno {want} (the release whose V8 matches ours). `scripts/setup.sh` \
         installs it from PyPI into ~/.cache/mcp-conductor/deno-{want}, where the test finds it; by hand:\n  \
         python3 -m pip install --target ~/.cache/mcp-conductor/deno-{want} deno=={want}\n(or point \
         MCP_CONDUCTOR_TEST_DENO at a deno {want}; a `deno` {want} on PATH also works)"
    );
    let installed = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(format!(".cache/mcp-conductor/deno-{want}/bin/deno")))
        .filter(|path| path.is_file());
    let (deno, source) = match (std::env::var_os("MCP_CONDUCTOR_TEST_DENO").filter(|v| !v.is_empty()), installed) {
        (Some(path), _) => (PathBuf::from(path), "MCP_CONDUCTOR_TEST_DENO"),
        (None, Some(path)) => (path, "scripts/setup.sh's install"),
        (None, None) => (PathBuf::from("deno"), "PATH"),
    };
    let output = std::process::Command::new(&deno)
        .arg("--version")
        .env("DENO_NO_UPDATE_CHECK", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run deno from {source} ({}): {e}\n{help}", deno.display()));
    assert!(output.status.success(), "`{} --version` failed ({}): {}\n{help}", deno.display(), output.status, String::from_utf8_lossy(&output.stderr));
    let version = String::from_utf8_lossy(&output.stdout);
    let got = version.split_whitespace().nth(1).unwrap_or("?");
    assert_eq!(got, want, "{} (from {source}) is deno {got}, not {want}:\n{version}\n{help}", deno.display());
    deno
}

struct DenoRun {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn run_deno(deno: &Path, file: &Path, vars: &[(&str, &str)], home: &Path) -> Result<DenoRun, String> {
    let mut cmd = tokio::process::Command::new(deno);
    cmd.args(["run", "--no-config", "--quiet", "--no-prompt"])
        .arg(file)
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DENO_DIR", home.join("deno-dir"))
        .env("DENO_NO_UPDATE_CHECK", "1")
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let output = tokio::time::timeout(TIMEOUT, cmd.output())
        .await
        .map_err(|_| format!("`deno run` did not finish within {TIMEOUT:?}"))?
        .map_err(|e| format!("cannot start {}: {e}", deno.display()))?;
    Ok(DenoRun {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

async fn run_ours(server: &Server, code: &str) -> common::Run {
    server.run_args(json!({ "deno_code": code, "timeout": TIMEOUT.as_millis() as u64 })).await
}

/// Ok when our run succeeded with deno's exact stdout and stderr; otherwise a readable report.
fn compare(theirs: &Result<DenoRun, String>, ours: &common::Run) -> Result<(), String> {
    let theirs = match theirs {
        Ok(run) => run,
        Err(e) => return Err(format!("deno: {e}")),
    };
    if theirs.code != Some(0) {
        return Err(format!(
            "the case does not run cleanly under `deno run` (exit {:?}); every case must exit 0 with zero permissions.\n\
             deno stderr:\n{}",
            theirs.code,
            indent(&strip_ansi(&theirs.stderr))
        ));
    }
    let field = |name: &str| ours.structured[name].as_str().unwrap_or_default().to_string();
    let (our_stdout, our_stderr) = (field("stdout"), field("stderr"));
    let mut report = String::new();
    if ours.status() != "success" || ours.is_error {
        let _ = writeln!(
            report,
            "deno exited 0 but our run failed: status {:?}, errorType {}, error:\n{}",
            ours.status(),
            ours.text["errorType"],
            indent(ours.error())
        );
    }
    if ours.text["truncated"] == json!(true) {
        let _ = writeln!(report, "our output was truncated");
    }
    if our_stdout != theirs.stdout {
        let _ = writeln!(report, "stdout differs:\n{}", diff(&theirs.stdout, &our_stdout));
    }
    if our_stderr != theirs.stderr {
        let _ = writeln!(report, "stderr differs:\n{}", diff(&theirs.stderr, &our_stderr));
    }
    if report.is_empty() { Ok(()) } else { Err(report.trim_end().to_string()) }
}

/// Text without its ANSI escape sequences (deno colors its uncaught-error report).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            while chars.next().is_some_and(|c| !c.is_ascii_alphabetic()) {}
        } else {
            out.push(c);
        }
    }
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// A line diff (`-` deno, `+` ours) with two lines of context around each change.
fn diff(deno: &str, ours: &str) -> String {
    let a: Vec<&str> = deno.split('\n').collect();
    let b: Vec<&str> = ours.split('\n').collect();
    let ops = edit_script(&a, &b);
    let changed: Vec<bool> = ops.iter().map(|(op, _)| *op != ' ').collect();
    const CONTEXT: usize = 2;
    let near_change = |i: usize| {
        let lo = i.saturating_sub(CONTEXT);
        let hi = (i + CONTEXT).min(ops.len() - 1);
        changed[lo..=hi].iter().any(|c| *c)
    };
    let mut out = String::new();
    let mut skipped = false;
    for (i, (op, line)) in ops.iter().enumerate() {
        if near_change(i) {
            if skipped {
                out.push_str("   …\n");
                skipped = false;
            }
            let _ = writeln!(out, "  {op} {}", visible(line));
        } else {
            skipped = true;
        }
    }
    if skipped {
        out.push_str("   …\n");
    }
    out
}

/// A line as printed in a diff: as is, unless invisible characters would hide the difference.
fn visible(line: &str) -> String {
    let invisible = line.ends_with(char::is_whitespace) || line.chars().any(|c| c.is_control() && c != '\t');
    if invisible { format!("{line:?}") } else { line.to_string() }
}

/// Longest-common-subsequence edit script: (' ' | '-' | '+', line).
fn edit_script<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(char, &'a str)> {
    let (n, m) = (a.len(), b.len());
    if n.saturating_mul(m) > 4_000_000 {
        // Too big for the table: everything removed, then everything added.
        return a.iter().map(|l| ('-', *l)).chain(b.iter().map(|l| ('+', *l))).collect();
    }
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    ops
}

#[test]
fn diff_shows_changes_with_context() {
    let d = diff("a\nb\nc\nd\ne\nf\ng\n", "a\nb\nc\nX\ne\nf\ng\n");
    assert_eq!(d, "   …\n    b\n    c\n  - d\n  + X\n    e\n    f\n   …\n");
    assert_eq!(diff("x\n", "x"), "    x\n  - \n");
    assert_eq!(visible("trailing "), "\"trailing \"");
    assert_eq!(strip_ansi("\u{1b}[0m\u{1b}[1m\u{1b}[31merror\u{1b}[0m: x \u{1b}[38;5;245mat\u{1b}[0m"), "error: x at");
}
