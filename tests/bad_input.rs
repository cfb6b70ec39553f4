//! Bad protocol input never takes the server down: it answers with errors where JSON-RPC has
//! one, ignores what it cannot read, and keeps serving. A client that disconnects mid-execution
//! ends the server (and so the execution) promptly.
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Raw {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Raw {
    fn start() -> Raw {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-conductor"))
            .env("HOME", dir.path())
            .env("MCP_CONDUCTOR_WORKSPACE", dir.path().join("workspace"))
            .env("MCP_CONDUCTOR_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stdin = child.stdin.take();
        Raw { child, stdin, lines, _dir: dir }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    fn send(&mut self, message: Value) {
        self.send_raw(message.to_string().as_bytes());
    }

    /// The next message with this id (other lines are skipped), if one comes within `wait`.
    fn answer(&self, id: u64, wait: Duration) -> Option<Value> {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let line = self.lines.recv_timeout(left).ok()?;
            let msg: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("non-JSON on stdout {line:?}: {e}"));
            if msg["id"] == json!(id) {
                return Some(msg);
            }
        }
        None
    }

    fn initialize(&mut self) {
        self.send(json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}));
        assert!(self.answer(0, Duration::from_secs(10)).unwrap()["result"].is_object());
        self.send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
    }

    fn run(&mut self, id: u64, code: &str) -> Value {
        self.send(json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"run_deno_code","arguments":{"deno_code":code}}}));
        let msg = self.answer(id, Duration::from_secs(30)).expect("an answer");
        serde_json::from_str(msg["result"]["content"][0]["text"].as_str().expect("a tool result")).unwrap()
    }
}

#[test]
fn garbage_and_wrong_requests_get_errors_and_the_server_keeps_serving() {
    let mut s = Raw::start();
    s.send(json!({"jsonrpc":"2.0","id":90,"method":"tools/list"}));
    assert!(s.answer(90, Duration::from_secs(5)).unwrap()["error"].is_object(), "request before initialize");
    s.initialize();

    s.send_raw(b"{this is not json");
    s.send_raw(&vec![b'x'; 10 << 20]);
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"no/such/method"}));
    assert_eq!(s.answer(1, Duration::from_secs(5)).unwrap()["error"]["code"], -32601);
    s.send(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run_deno_code","arguments":"not an object"}}));
    assert!(s.answer(2, Duration::from_secs(5)).unwrap()["error"].is_object());
    s.send(json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}));
    assert!(s.answer(3, Duration::from_secs(5)).unwrap()["error"].is_object());
    s.send(json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"run_deno_code","arguments":{"deno_code": 42}}}));
    assert_eq!(s.answer(4, Duration::from_secs(5)).unwrap()["error"]["code"], -32602);

    // A 5 MB program still runs.
    let big = format!("// {}\n1+1", "y".repeat(5 << 20));
    assert_eq!(s.run(5, &big)["returnValue"], 2);
    assert_eq!(s.run(6, "1+1")["returnValue"], 2);
    assert!(s.child.try_wait().unwrap().is_none(), "still running");
}

#[test]
fn client_disconnect_mid_execution_ends_the_server_promptly() {
    let mut s = Raw::start();
    s.initialize();
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run_deno_code","arguments":{"deno_code":"while (true) {}","timeout":60000}}}));
    std::thread::sleep(Duration::from_millis(300));
    drop(s.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            assert!(status.success(), "clean exit: {status}");
            break;
        }
        assert!(Instant::now() < deadline, "the server kept running a busy loop after its client left");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A configuration mistake that would only show at run time (every import failing, `mcpFactory`
/// finding no servers, our own errors filtered out of the log) stops the start with a message
/// naming the variable; stdout stays empty.
#[test]
fn configuration_mistakes_stop_the_start_naming_the_variable() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path().display().to_string();
    let broken_root = home.path().join("root");
    std::fs::create_dir_all(&broken_root).unwrap();
    std::fs::write(broken_root.join("mcp.json"), "{\"mcpServers\": ").unwrap();
    let root = broken_root.display().to_string();
    let cases: [(&[&str], &[(&str, &str)], &str); 5] = [
        (&[], &[("MCP_CONDUCTOR_LOG", "warning")], "MCP_CONDUCTOR_LOG: 'warning' is not a level"),
        (&[], &[("MCP_CONDUCTOR_MCP_CONFIG", "/nonexistent/mcp.json")], "MCP_CONDUCTOR_MCP_CONFIG=/nonexistent/mcp.json: no such file"),
        (&[], &[("MCP_CONDUCTOR_IMPORT_MAP", "/nonexistent/map.json")], "MCP_CONDUCTOR_IMPORT_MAP=/nonexistent/map.json: no such file"),
        (&[], &[("MCP_CONDUCTOR_ROOT", &root)], "is unusable: not valid JSON"),
        (&["http", "--port", "0"], &[("MCP_CONDUCTOR_HTTP_ALLOWED_ORIGINS", "localhost:6274")], "MCP_CONDUCTOR_HTTP_ALLOWED_ORIGINS: 'localhost:6274' is not an origin"),
    ];
    for (args, env, says) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_mcp-conductor"))
            .args(args)
            .env("HOME", &h)
            .env_remove("MCP_CONDUCTOR_WORKSPACE")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{env:?}: {stderr}");
        assert!(stderr.contains(says), "{env:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{env:?}: nothing on stdout");
    }
}
