//! MCP_CONDUCTOR_RUN_ARGS as the only source of permissions.
mod common;

use std::process::Command;

use common::{BIN, Server};
use serde_json::json;

#[tokio::test]
async fn workspace_read_write_but_nothing_outside() {
    let s = Server::start("allow-read={ws},allow-write={ws}").await;
    let r = s.run("await Deno.writeTextFile('note.txt', 'hello'); await Deno.readTextFile(WORKSPACE_DIR + '/note.txt')").await;
    assert_eq!(r.value(), &json!("hello"));
    assert_eq!(std::fs::read_to_string(s.ws().join("note.txt")).unwrap(), "hello");

    let outside = s.ws().parent().unwrap().join("outside.txt");
    let r = s.run(&format!("await Deno.writeTextFile({:?}, 'x')", outside.display().to_string())).await;
    assert_eq!(r.error_type(), "permission");
    assert!(!outside.exists());
}

#[tokio::test]
async fn deno_list_syntax_reaches_the_sandbox() {
    let s = Server::start("allow-read=/a,/b,allow-net").await;
    let r = s.run("PERMISSIONS").await;
    assert_eq!(r.value(), &json!(["--allow-read=/a,/b", "--allow-net"]));
    let r = s.run("[(await Deno.permissions.query({ name: 'read', path: '/b' })).state, (await Deno.permissions.query({ name: 'read', path: '/c' })).state, (await Deno.permissions.query({ name: 'net' })).state]").await;
    assert_eq!(r.value(), &json!(["granted", "prompt", "granted"]));
}

#[tokio::test]
async fn permission_requests_are_denied_without_prompting() {
    let s = Server::start("").await;
    let r = s.run("(await Deno.permissions.request({ name: 'read', path: '/etc' })).state").await;
    assert_eq!(r.value(), &json!("denied"));
    let r = s.run("await Deno.readTextFile('/etc/hostname')").await;
    assert_eq!(r.error_type(), "permission");
}

#[tokio::test]
async fn env_permission_by_name() {
    let s = Server::start_env("allow-env=MY_VAR", &[("MY_VAR", "visible"), ("OTHER", "hidden")]).await;
    let r = s.run("Deno.env.get('MY_VAR')").await;
    assert_eq!(r.value(), &json!("visible"));
    let r = s.run("Deno.env.get('OTHER')").await;
    assert_eq!(r.error_type(), "permission");
}

fn startup_failure(run_args: &str) -> (i32, String, String) {
    let out = Command::new(BIN)
        .env("MCP_CONDUCTOR_RUN_ARGS", run_args)
        .env("MCP_CONDUCTOR_WORKSPACE", std::env::temp_dir().join("mcp-conductor-startup-test"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unknown_flag_is_a_startup_error_naming_it() {
    let (code, stdout, stderr) = startup_failure("allow-read,allow-bogus");
    assert_ne!(code, 0);
    assert!(stderr.contains("allow-bogus"), "{stderr}");
    assert!(stdout.is_empty(), "nothing but JSON-RPC on stdout: {stdout}");
}

/// Flags separated by a space instead of a comma would otherwise be one strange path
/// (`"/tmp --allow-net"`); short and dashed items are refused the same way.
#[test]
fn flags_after_a_space_or_dashed_values_are_startup_errors() {
    for (run_args, named) in [
        ("--allow-read=/tmp --allow-net", "/tmp --allow-net"),
        ("--allow-read=/tmp,-A", "-A"),
        ("--allow-write=/a allow-env", "/a allow-env"),
    ] {
        let (code, stdout, stderr) = startup_failure(run_args);
        assert_ne!(code, 0, "{run_args}");
        assert!(stderr.contains(named) && stderr.contains("MCP_CONDUCTOR_RUN_ARGS"), "{run_args}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
    }
}

#[test]
fn invalid_value_is_a_startup_error_naming_it() {
    let (code, _, stderr) = startup_failure("allow-net=exa mple.com");
    assert_ne!(code, 0);
    assert!(stderr.contains("allow-net=exa mple.com"), "{stderr}");
    let (code, _, stderr) = startup_failure("allow-run=definitely-not-a-command-xyz");
    assert_ne!(code, 0);
    assert!(stderr.contains("definitely-not-a-command-xyz"), "{stderr}");
}
