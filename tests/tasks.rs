//! `run_deno_code` as an MCP Task (the `io.modelcontextprotocol/tasks` extension) for a
//! 2026-07-28 client that declares it in its requests: an execution still running after a second
//! becomes a task, polled to the same result a direct call returns, cancelled midway (the
//! execution stops), expired after MCP_CONDUCTOR_TASK_TTL, also over stateless HTTP; a quick one
//! is answered directly, and so is every call of a 2025-11-25 session that listed the extension
//! at `initialize` (the Inspector does). rmcp's client declares the extension here; a client that
//! does not gets the direct result (every other test).

mod common;

use std::time::Duration;

use common::http::HttpServer;
use common::launch;
use rmcp::ServiceExt;
use rmcp::model::*;
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

/// Code that runs past the second after which an execution becomes a task.
const SLOW: &str = "await new Promise((r) => setTimeout(r, 1300));";

fn tasks_client() -> ClientConfig {
    ClientConfig::new(ClientCapabilities::builder().enable_tasks().build(), Implementation::new("tasks-test", "0"))
}

/// 2026-07-28: `server/discover`, then client capabilities in every request's `_meta`.
fn modern() -> ClientLifecycleMode {
    ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] }
}

/// The binary over stdio with a client that declares the tasks extension (and the temporary
/// directory it runs in, kept alive by the caller).
async fn start(env: &[(&str, &str)]) -> (RunningService<RoleClient, ClientConfig>, u32, tempfile::TempDir) {
    let common::Launched { dir, transport, .. } = launch("", env);
    let pid = transport.id().unwrap();
    let client = tasks_client().serve_with_lifecycle(transport, modern()).await.expect("server/discover");
    (client, pid, dir)
}

fn call(code: &str) -> CallToolRequestParams {
    let Value::Object(args) = json!({ "deno_code": code }) else { unreachable!() };
    CallToolRequestParams::new("run_deno_code").with_arguments(args)
}

async fn create(client: &RunningService<RoleClient, ClientConfig>, code: &str) -> Task {
    match client.call_tool_once(call(code)).await.expect("tools/call") {
        CallToolResponse::Task(created) => created.task,
        other => panic!("a task, got {other:?}"),
    }
}

async fn poll(client: &RunningService<RoleClient, ClientConfig>, id: &str) -> DetailedTask {
    for _ in 0..600 {
        let task = client.peer().get_task(GetTaskParams::new(id.to_string())).await.expect("tasks/get").task;
        if task.status().is_terminal() {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {id} did not end");
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test]
async fn a_task_runs_to_the_result_a_direct_call_returns() {
    let (client, _pid, _launched) = start(&[]).await;
    let code = "progress(1, 2, 'half'); await new Promise((r) => setTimeout(r, 1500)); console.log('done'); 6 * 7";
    let task = create(&client, code).await;
    assert_eq!(task.status, TaskStatus::Working);
    assert!(task.poll_interval_ms.is_some() && task.ttl_ms.is_some(), "{task:?}");
    // While it runs: working, with the code's progress as the status message.
    let mut saw_progress = false;
    for _ in 0..20 {
        let now = client.peer().get_task(GetTaskParams::new(task.task_id.clone())).await.unwrap().task;
        if now.status() == TaskStatus::Working && now.task.status_message.as_deref() == Some("1/2: half") {
            saw_progress = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(saw_progress, "progress() shows as the status message");
    let done = poll(&client, &task.task_id).await;
    let TaskPayload::Completed { result } = done.payload else { panic!("completed: {done:?}") };
    let result: CallToolResult = serde_json::from_value(Value::Object(result)).unwrap();
    let structured = result.structured_content.unwrap();
    assert_eq!(structured["returnValue"], json!(42));
    assert_eq!(structured["output"], json!(["done"]));
    let text: Value = serde_json::from_str(&result.content[0].as_text().unwrap().text).unwrap();
    assert_eq!(text["status"], json!("success"), "the text item as a direct call sends it");

    // A failing execution is a completed task whose result is an error, as a direct call's is.
    let failed = poll(&client, &create(&client, &format!("{SLOW} throw new Error('boom')")).await.task_id).await;
    let TaskPayload::Completed { result } = failed.payload else { panic!("{failed:?}") };
    assert_eq!(result["isError"], json!(true));
    assert_eq!(result["structuredContent"]["errorType"], json!("runtime"));

    // A quick execution is answered directly, task or no task.
    match client.call_tool_once(call("1 + 1")).await.unwrap() {
        CallToolResponse::Complete(result) => assert_eq!(result.structured_content.unwrap()["returnValue"], json!(2)),
        other => panic!("a direct answer, got {other:?}"),
    }

    // Unknown ids are -32602.
    let err = client.peer().get_task(GetTaskParams::new("no-such-task".to_string())).await.unwrap_err();
    assert!(format!("{err:?}").contains("unknown task"), "{err:?}");
}

#[tokio::test]
async fn cancelling_a_task_stops_its_execution() {
    let (client, pid, _launched) = start(&[]).await;
    let task = create(&client, "while (true) {}").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.peer().cancel_task(CancelTaskParams::new(task.task_id.clone())).await.expect("tasks/cancel");
    let ended = poll(&client, &task.task_id).await;
    assert_eq!(ended.status(), TaskStatus::Cancelled, "{ended:?}");
    // The busy loop is gone: the process is nearly idle over the next second.
    let before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let spent = cpu_ticks(pid) - before;
    assert!(spent < 50, "the execution kept running after the cancel: {spent} ticks in 1 s");
    // And the server still serves.
    let again = poll(&client, &create(&client, &format!("{SLOW} 1 + 1")).await.task_id).await;
    assert_eq!(again.status(), TaskStatus::Completed);
}

#[tokio::test]
async fn a_task_expires_after_its_ttl() {
    let (client, _pid, _launched) = start(&[("MCP_CONDUCTOR_MAX_TIMEOUT", "3000"), ("MCP_CONDUCTOR_TASK_TTL", "3100")]).await;
    let task = create(&client, &format!("{SLOW} 1")).await;
    assert_eq!(task.ttl_ms, Some(3100));
    assert_eq!(poll(&client, &task.task_id).await.status(), TaskStatus::Completed);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let err = client.peer().get_task(GetTaskParams::new(task.task_id.clone())).await.unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("unknown task") && text.contains("MCP_CONDUCTOR_TASK_TTL"), "{text}");
}

/// Results are kept in memory: past MCP_CONDUCTOR_TASK_MAX kept tasks, calls are answered
/// directly.
#[tokio::test]
async fn past_the_task_limit_calls_are_answered_directly() {
    let (client, _pid, _dir) = start(&[("MCP_CONDUCTOR_TASK_MAX", "1")]).await;
    let first = create(&client, &format!("{SLOW} 1")).await;
    match client.call_tool_once(call(&format!("{SLOW} 2"))).await.unwrap() {
        CallToolResponse::Complete(result) => assert_eq!(result.structured_content.unwrap()["returnValue"], json!(2)),
        other => panic!("a direct answer, got {other:?}"),
    }
    assert_eq!(poll(&client, &first.task_id).await.status(), TaskStatus::Completed);
}

#[test]
fn a_task_ttl_shorter_than_an_execution_is_a_startup_error() {
    let out = std::process::Command::new(common::BIN)
        .arg("doctor")
        .env("MCP_CONDUCTOR_MAX_TIMEOUT", "5000")
        .env("MCP_CONDUCTOR_TASK_TTL", "4000")
        .env("HOME", std::env::temp_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("MCP_CONDUCTOR_TASK_TTL"), "{text}");
}

/// Over stateless HTTP each request stands alone: the task outlives the request that made it,
/// and `tasks/get` from another connection finds it (the token's holders are one caller).
#[tokio::test]
async fn tasks_work_over_stateless_http() {
    let server = HttpServer::start(&[], &[]);
    let connect = || async {
        let config = StreamableHttpClientTransportConfig::with_uri(server.url.as_str());
        tasks_client()
            .serve_with_lifecycle(StreamableHttpClientTransport::from_config(config), modern())
            .await
            .expect("server/discover")
    };
    let a = connect().await;
    let task = create(&a, &format!("{SLOW} 'mine'")).await;
    drop(a);
    let b = connect().await;
    let done = poll(&b, &task.task_id).await;
    let TaskPayload::Completed { result } = done.payload else { panic!("{done:?}") };
    assert_eq!(result["structuredContent"]["returnValue"], json!("mine"));
}

/// A 2025-11-25 session that lists the extension at `initialize` (the Inspector does, expecting it
/// to be ignored there) gets the direct result of a long call, never a task.
#[tokio::test]
async fn a_session_that_lists_the_extension_at_initialize_is_answered_directly() {
    let common::Launched { dir: _dir, transport, .. } = launch("", &[]);
    let client = tasks_client().serve(transport).await.expect("initialize");
    match client.call_tool_once(call(&format!("{SLOW} 7"))).await.unwrap() {
        CallToolResponse::Complete(result) => assert_eq!(result.structured_content.unwrap()["returnValue"], json!(7)),
        other => panic!("a direct answer, got {other:?}"),
    }
}
