//! State handles (`run_deno_code`'s `state`, src/state/): values kept across calls while every
//! worker stays fresh; expired, forged and other clients' handles are refused with the reason.

mod common;

use common::Server;
use common::http::HttpServer;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use serde_json::{Value, json};

#[tokio::test]
async fn values_survive_three_calls_and_nothing_else_does() {
    let s = Server::start("").await;
    let r = s
        .run_args(json!({ "deno_code": "await state.set('count', 1); globalThis.leak = 'x'; await state.keys()", "state": "new" }))
        .await;
    assert_eq!(r.value(), &json!(["count"]));
    let handle = r.text["stateHandle"].as_str().unwrap_or_else(|| panic!("a handle: {r:?}")).to_string();
    assert!(handle.starts_with("st_") && handle.len() >= 3 + 32, "{handle}");
    assert_eq!(r.structured["stateHandle"], json!(handle), "structuredContent too");

    let step = "const n = await state.get('count'); await state.set('count', n + 1); \
                await state.set('seen', [...(await state.get('seen') ?? []), n]); [n + 1, typeof globalThis.leak]";
    for expected in [2, 3] {
        let r = s.run_args(json!({ "deno_code": step, "state": handle })).await;
        assert_eq!(r.value(), &json!([expected, "undefined"]), "values persist, the worker does not: {r:?}");
        assert_eq!(r.text["stateHandle"], json!(handle));
    }
    let r = s
        .run_args(json!({ "deno_code": "[await state.get('seen'), await state.delete('seen'), await state.get('seen'), await state.keys()]", "state": handle }))
        .await;
    assert_eq!(r.value(), &json!([[1, 2], true, null, ["count"]]));

    // Without a handle: the error says how to get one.
    let r = s.run("await state.get('count')").await;
    assert_eq!(r.error_type(), "runtime");
    assert!(r.error().contains(r#""state": "new""#), "{r:?}");
    // Values must be JSON; keys non-empty strings.
    let r = s.run_args(json!({ "deno_code": "await state.set('f', () => 1)", "state": handle })).await;
    assert!(r.error().contains("must be JSON data"), "{r:?}");
    let r = s.run_args(json!({ "deno_code": "await state.get('')", "state": handle })).await;
    assert!(r.error().contains("non-empty string"), "{r:?}");

    // A forged handle: a tool error of type "state", no code run.
    let forged = format!("st_{}", "0".repeat(64));
    let r = s.run_args(json!({ "deno_code": "1", "state": forged })).await;
    assert_eq!(r.error_type(), "state");
    assert!(r.error().contains("unknown state handle"), "{r:?}");
    s.assert_healthy().await;
}

#[tokio::test]
async fn handles_expire_and_hold_a_bounded_amount() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_STATE_TTL", "400"), ("MCP_CONDUCTOR_STATE_MAX_BYTES", "64")]).await;
    let r = s.run_args(json!({ "deno_code": "await state.set('k', 'v')", "state": "new" })).await;
    let handle = r.text["stateHandle"].as_str().unwrap().to_string();
    let r = s.run_args(json!({ "deno_code": "await state.set('big', 'x'.repeat(100))", "state": handle })).await;
    assert_eq!(r.error_type(), "runtime");
    assert!(r.error().contains("MCP_CONDUCTOR_STATE_MAX_BYTES"), "{r:?}");
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let r = s.run_args(json!({ "deno_code": "await state.get('k')", "state": handle })).await;
    assert_eq!(r.error_type(), "state");
    assert!(r.error().contains("expired") && r.error().contains("MCP_CONDUCTOR_STATE_TTL"), "{r:?}");
}

async fn run(client: &RunningService<RoleClient, ()>, args: Value) -> Value {
    let Value::Object(args) = args else { unreachable!() };
    let result = client.call_tool(CallToolRequestParams::new("run_deno_code").with_arguments(args)).await.expect("tools/call");
    result.structured_content.expect("structuredContent")
}

/// Over HTTP a handle is bound to the session that asked for it.
#[tokio::test]
async fn another_http_session_cannot_use_a_handle() {
    let server = HttpServer::start(&[], &[]);
    let a = server.client(None).await;
    let b = server.client(None).await;
    let r = run(&a, json!({ "deno_code": "await state.set('secret', 42)", "state": "new" })).await;
    let handle = r["stateHandle"].as_str().unwrap_or_else(|| panic!("{r}")).to_string();
    let r = run(&b, json!({ "deno_code": "await state.get('secret')", "state": handle })).await;
    assert_eq!(r["errorType"], json!("state"), "{r}");
    assert!(r["error"].as_str().unwrap().contains("belongs to another client"), "{r}");
    let r = run(&a, json!({ "deno_code": "await state.get('secret')", "state": handle })).await;
    assert_eq!(r["returnValue"], json!(42), "{r}");
}
