//! Failed executions: each error type, with messages that point at the user's code.
mod common;

use common::Server;

#[tokio::test]
async fn syntax_error_points_at_line_one() {
    let s = Server::start("").await;
    let r = s.run("const x = {{{").await;
    assert_eq!(r.error_type(), "syntax");
    assert!(r.error().contains(":1:"), "{}", r.error());
}

#[tokio::test]
async fn runtime_error_has_message_and_user_line() {
    let s = Server::start("").await;
    let r = s.run("const a = 1\n\nthrow new Error('boom')").await;
    assert_eq!(r.error_type(), "runtime");
    assert!(r.error().contains("boom"), "{}", r.error());
    assert!(r.error().contains("$code.ts:3:"), "line 3 of the user's code: {}", r.error());
    assert!(!r.error().contains("mcp_conductor"), "no frames of our glue: {}", r.error());
}

#[tokio::test]
async fn typescript_errors_map_to_original_lines() {
    let s = Server::start("").await;
    let r = s
        .run("interface A {\n  x: number\n}\nconst a: A = { x: 1 }\nfunction f(n: number): never {\n  throw new RangeError('at five ' + n)\n}\nf(a.x)")
        .await;
    assert_eq!(r.error_type(), "runtime");
    assert!(r.error().contains("RangeError: at five 1"), "{}", r.error());
    assert!(r.error().contains("$code.ts:6:"), "line 6: {}", r.error());
}

#[tokio::test]
async fn output_before_an_error_is_kept() {
    let s = Server::start("").await;
    let r = s.run("console.log('before'); throw new Error('after')").await;
    assert_eq!(r.error_type(), "runtime");
    assert_eq!(r.output(), vec!["before"]);
}

#[tokio::test]
async fn unhandled_rejection_is_a_runtime_error() {
    let s = Server::start("").await;
    let r = s.run("Promise.reject(new Error('nobody awaits me')); await new Promise(r => setTimeout(r, 20)); 1").await;
    assert_eq!(r.error_type(), "runtime");
    assert!(r.error().contains("nobody awaits me"), "{}", r.error());
}

#[tokio::test]
async fn permission_errors() {
    let s = Server::start("").await;
    for code in [
        "await Deno.readTextFile('/etc/hosts')",
        "await fetch('http://127.0.0.1:8765/')",
        "Deno.env.get('HOME')",
        "await new Deno.Command('true').output()",
        "await import('file:///etc/hosts')",
        "await import('https://example.com/mod.ts')",
    ] {
        let r = s.run(code).await;
        assert_eq!(r.error_type(), "permission", "code: {code}: {r:?}");
        assert!(r.error().contains("MCP_CONDUCTOR_RUN_ARGS"), "hint for the user: {}", r.error());
    }
    s.assert_healthy().await;
}

#[tokio::test]
async fn unsupported_specifiers_say_so() {
    let s = Server::start("").await;
    let r = s.run("import x from 'npm:lodash'\nx").await;
    assert_eq!(r.error_type(), "runtime");
    assert!(r.error().contains("no npm packages are installed"), "{}", r.error());
    assert!(r.error().contains("mcp-conductor packages add lodash"), "{}", r.error());
}

#[tokio::test]
async fn new_worker_is_refused_cleanly() {
    let s = Server::start("").await;
    let r = s.run("new Worker('data:text/javascript,1', { type: 'module' })").await;
    assert_eq!(r.error_type(), "runtime");
    assert!(r.error().contains("not available"), "{}", r.error());
    s.assert_healthy().await;
}
