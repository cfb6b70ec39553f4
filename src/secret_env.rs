//! Secrets an administrator gives by environment variable (the HTTP bearer token, the OTLP
//! collector's headers) leave the process environment before anything else runs: when one is
//! set, the process re-executes itself without them and hands them over through a pipe, so they
//! are neither in `Deno.env` (even with `allow-env`) nor in the initial environment block
//! (`/proc/<pid>/environ`, which a subprocess started with `allow-run` could read). The server
//! reads them back with [`taken`]. The variables the egress policy's credentials name
//! (`${NAME}` in the `MCP_CONDUCTOR_EGRESS` file at startup) are taken the same way and read
//! back with [`taken_egress`].

use std::collections::HashMap;
use std::sync::OnceLock;

/// The variables taken out of the environment.
pub const SECRET_VARS: [&str; 3] =
    ["MCP_CONDUCTOR_HTTP_AUTH_TOKEN", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"];

/// Internal: the pipe the re-executed process reads the secrets from (a JSON object).
const FD_VAR: &str = "MCP_CONDUCTOR_INTERNAL_SECRETS_FD";

static TAKEN: OnceLock<HashMap<String, String>> = OnceLock::new();

/// The value a secret variable had when the server started (empty values count as unset).
pub fn taken(name: &str) -> Option<String> {
    debug_assert!(SECRET_VARS.contains(&name), "{name} is not a secret variable");
    TAKEN.get().and_then(|secrets| secrets.get(name).cloned())
}

/// A variable the egress policy named at startup (see the module docs).
pub fn taken_egress(name: &str) -> Option<String> {
    TAKEN.get().and_then(|secrets| secrets.get(name).cloned())
}

/// The variables `${NAME}` placeholders of the egress policy file name (read as text: the file
/// is validated later, with errors that name the rule).
fn egress_vars() -> Vec<String> {
    let Some(path) = std::env::var_os("MCP_CONDUCTOR_EGRESS").filter(|p| !p.is_empty()) else { return Vec::new() };
    std::fs::read_to_string(path).map(|text| crate::egress::policy::placeholders(&text)).unwrap_or_default()
}

/// Takes [`SECRET_VARS`] out of the process (see the module). Call first thing in `main`, before
/// any thread exists.
pub fn take_from_env() {
    use std::io::{Read, Write};
    use std::os::fd::FromRawFd;
    use std::os::unix::process::CommandExt;
    // SAFETY (all env mutations below): no other thread exists yet.
    if let Ok(fd) = std::env::var(FD_VAR) {
        unsafe { std::env::remove_var(FD_VAR) };
        let mut text = String::new();
        if let Ok(fd) = fd.parse::<i32>()
            && fd > 2
        {
            // SAFETY: the descriptor our parent process made for us, read once and closed.
            let _ = unsafe { std::fs::File::from_raw_fd(fd) }.read_to_string(&mut text);
        }
        let _ = TAKEN.set(serde_json::from_str(&text).unwrap_or_default());
        return;
    }
    let mut secrets = HashMap::new();
    let names: Vec<String> = SECRET_VARS.iter().map(|n| n.to_string()).chain(egress_vars()).collect();
    for name in &names {
        if let Ok(value) = std::env::var(name)
            && !value.trim().is_empty()
        {
            secrets.insert(name.to_string(), value);
        }
        unsafe { std::env::remove_var(name) };
    }
    if secrets.is_empty() {
        let _ = TAKEN.set(secrets);
        return;
    }
    let mut fds = [0; 2];
    // SAFETY: pipe(2) into a two-element array; the read end stays inheritable for the exec.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } == 0 {
        // SAFETY: both ends are ours.
        let (read_end, mut write_end) = (fds[0], unsafe { std::fs::File::from_raw_fd(fds[1]) });
        let text = serde_json::to_string(&secrets).expect("strings serialize");
        // A pipe holds 64 KiB before a write blocks: larger secrets stay in this process instead.
        if text.len() < 60 * 1024 && write_end.write_all(text.as_bytes()).is_ok() {
            drop(write_end);
            unsafe { std::env::set_var(FD_VAR, read_end.to_string()) };
            let mut args = std::env::args_os();
            let mut command = std::process::Command::new("/proc/self/exe");
            if let Some(arg0) = args.next() {
                command.arg0(arg0);
            }
            let error = command.args(args).exec();
            // Only reached when exec failed: keep serving with the secrets removed from the
            // environment (the /proc entries stay refused to code).
            let names: Vec<&String> = secrets.keys().collect();
            eprintln!("mcp-conductor: cannot re-execute without {names:?} ({error}); continuing");
            unsafe { std::env::remove_var(FD_VAR) };
        }
        // SAFETY: our read end, unused now.
        unsafe { libc::close(read_end) };
    }
    let _ = TAKEN.set(secrets);
}
