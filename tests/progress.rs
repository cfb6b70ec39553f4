//! `progress(current, total?, message?)` sends `notifications/progress` live, while the code runs.
//! Proven causally, not by timing: the code reports 1, then waits for a file the test creates
//! only after it has received notification 1; the call can only finish if that notification
//! reached the client while the code was still running.

mod common;

use std::path::PathBuf;

use rmcp::model::{CallToolRequestParams, NumberOrString, ProgressNotificationParam, ProgressToken, RequestMetaObject};
use rmcp::service::{NotificationContext, RoleClient};
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[derive(Clone)]
struct Recorder {
    tx: mpsc::UnboundedSender<ProgressNotificationParam>,
    logs: mpsc::UnboundedSender<Value>,
}

impl ClientHandler for Recorder {
    async fn on_progress(&self, params: ProgressNotificationParam, _context: NotificationContext<RoleClient>) {
        let _ = self.tx.send(params);
    }

    #[allow(deprecated)]
    async fn on_logging_message(
        &self,
        params: rmcp::model::LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.logs.send(serde_json::to_value(params).unwrap());
    }
}

struct Client {
    service: rmcp::service::RunningService<RoleClient, Recorder>,
    progress: mpsc::UnboundedReceiver<ProgressNotificationParam>,
    logs: mpsc::UnboundedReceiver<Value>,
    workspace: PathBuf,
    _dir: tempfile::TempDir,
}

async fn client(run_args: &str) -> Client {
    let common::Launched { dir, workspace, transport } = common::launch(run_args, &[]);
    let (tx, progress) = mpsc::unbounded_channel();
    let (logs_tx, logs) = mpsc::unbounded_channel();
    let service = Recorder { tx, logs: logs_tx }.serve(transport).await.expect("initialize");
    Client { service, progress, logs, workspace, _dir: dir }
}

async fn call(service: &rmcp::service::RunningService<RoleClient, Recorder>, code: &str, token: Option<&str>) -> Value {
    let Value::Object(args) = json!({ "deno_code": code }) else { unreachable!() };
    let mut params = CallToolRequestParams::new("run_deno_code").with_arguments(args);
    if let Some(token) = token {
        params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(NumberOrString::String(token.into()))));
    }
    let result = service.call_tool(params).await.expect("tools/call");
    result.structured_content.expect("structuredContent")
}

#[tokio::test]
async fn progress_is_delivered_while_the_code_runs() {
    let mut c = client("allow-read={ws}").await;
    let go = c.workspace.join("go");
    let code = format!(
        r#"
        progress(1, 3, "started");
        const go = {go:?};
        for (;;) {{
          try {{ Deno.statSync(go); break; }} catch {{ await new Promise((r) => setTimeout(r, 10)); }}
        }}
        progress(2, 3);
        progress(3, 3, "done");
        "finished"
        "#,
        go = go.display().to_string()
    );
    let Client { service, progress, .. } = &mut c;
    let run = call(service, &code, Some("tok-1"));
    let created = async {
        let first = progress.recv().await.expect("notification 1");
        assert_eq!((first.progress, first.total, first.message.as_deref()), (1.0, Some(3.0), Some("started")));
        // (rmcp's client puts its own progress token on every request.)
        std::fs::write(&go, "").unwrap();
    };
    let (result, ()) = tokio::join!(run, created);
    assert_eq!(result["returnValue"], json!("finished"), "{result}");
    // The last one is always sent, before the result.
    let mut last = None;
    while let Ok(p) = c.progress.try_recv() {
        last = Some(p);
    }
    let last = last.expect("the final notification");
    assert_eq!((last.progress, last.message.as_deref()), (3.0, Some("done")));
}

#[tokio::test]
async fn progress_checks_its_arguments_and_thins_a_flood() {
    let mut c = client("").await;
    let r = call(&c.service, "progress(1); progress(2, 10, 'x'); 'ok'", None).await;
    assert_eq!(r["returnValue"], json!("ok"), "{r}");
    for (code, needle) in [
        ("progress('1')", "current must be a finite number"),
        ("progress(2); progress(2)", "must be above the previous value"),
        ("progress(1, 'ten')", "total must be a finite number"),
        ("progress(1, 2, 3)", "message must be a string"),
    ] {
        let r = call(&c.service, code, Some("t")).await;
        assert_eq!(r["status"], json!("error"), "{code}: {r}");
        assert!(r["error"].as_str().unwrap().contains(needle), "{code}: {r}");
    }
    // A flood is thinned (about 20 per second), the last value always arrives.
    while c.progress.try_recv().is_ok() {}
    let r = call(&c.service, "for (let i = 1; i <= 5000; i++) progress(i); 1", Some("flood")).await;
    assert_eq!(r["returnValue"], json!(1));
    let mut got = Vec::new();
    while let Ok(p) = c.progress.try_recv() {
        got.push(p.progress);
    }
    assert_eq!(got.last(), Some(&5000.0), "{got:?}");
    assert!(got.len() < 100, "{} notifications for a burst", got.len());
    // `progress` cannot be replaced by a call's globals.
    let Value::Object(args) = json!({ "deno_code": "1", "globals": { "progress": 1 } }) else { unreachable!() };
    let err = c.service.call_tool(CallToolRequestParams::new("run_deno_code").with_arguments(args)).await;
    assert!(err.is_err(), "{err:?}");
}

/// After `logging/setLevel`, each printed line is a `notifications/message`, live: the code prints
/// a line, then waits for a file the test creates only after that line arrived.
#[tokio::test]
#[allow(deprecated)]
async fn printed_lines_are_logging_notifications_while_the_code_runs() {
    let mut c = client("allow-read={ws}").await;
    let quiet = call(&c.service, "console.log('not asked for'); 1", None).await;
    assert_eq!(quiet["returnValue"], json!(1));
    assert!(c.logs.try_recv().is_err(), "no logging notifications before logging/setLevel");
    let level: rmcp::model::SetLevelRequestParams = serde_json::from_value(json!({ "level": "info" })).unwrap();
    c.service.set_level(level).await.expect("logging/setLevel");
    let go = c.workspace.join("go");
    let code = format!(
        r#"
        console.log("first line");
        const go = {go:?};
        for (;;) {{
          try {{ Deno.statSync(go); break; }} catch {{ await new Promise((r) => setTimeout(r, 10)); }}
        }}
        console.error("on stderr");
        "finished"
        "#,
        go = go.display().to_string()
    );
    let Client { service, logs, .. } = &mut c;
    let run = call(service, &code, None);
    let created = async {
        let first = logs.recv().await.expect("the first line");
        assert_eq!(first, json!({ "level": "info", "logger": "run_deno_code", "data": "first line" }));
        std::fs::write(&go, "").unwrap();
    };
    let (result, ()) = tokio::join!(run, created);
    assert_eq!(result["returnValue"], json!("finished"), "{result}");
    let second = c.logs.try_recv().expect("the stderr line, before the result");
    assert_eq!(second, json!({ "level": "warning", "logger": "run_deno_code", "data": "on stderr" }));

    // At `warning`, stdout lines (info) are filtered out.
    let level: rmcp::model::SetLevelRequestParams = serde_json::from_value(json!({ "level": "warning" })).unwrap();
    c.service.set_level(level).await.unwrap();
    call(&c.service, "console.log('info'); console.warn('warn'); 1", None).await;
    let got: Vec<Value> = std::iter::from_fn(|| c.logs.try_recv().ok()).map(|v| v["data"].clone()).collect();
    assert_eq!(got, [json!("warn")]);
}
