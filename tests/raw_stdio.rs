//! The byte stream on stdout: nothing but JSON-RPC, at startup and whatever the code does.
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

#[test]
fn stdout_carries_only_json_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-conductor"))
        // Deno refuses to spawn with LD_LIBRARY_PATH set (cargo sets it) unless allow-run is total.
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("MCP_CONDUCTOR_WORKSPACE", dir.path().join("workspace"))
        .env("MCP_CONDUCTOR_RUN_ARGS", "allow-run=sh")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |v: Value| writeln!(stdin, "{v}").unwrap();
    send(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}));
    send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
    let noisy = "console.log('{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}'); \
                 await new Deno.Command('sh', { args: ['-c', 'echo from-child; cat'], stdin: 'inherit', stdout: 'inherit' }).output(); \
                 const b = new Uint8Array(64); [await Deno.stdin.read(b)]";
    send(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run_deno_code","arguments":{"deno_code": noisy}}}));
    send(json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"run_deno_code","arguments":{"deno_code":"1+1"}}}));

    // Responses may arrive in any order: calls run concurrently.
    let mut answers = std::collections::BTreeMap::new();
    while answers.len() < 3 {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "stdout closed early");
        let msg: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("non-JSON on stdout: {line:?}: {e}"));
        assert_eq!(msg["jsonrpc"], "2.0", "{line}");
        if let Some(id) = msg.get("id").and_then(Value::as_u64) {
            answers.insert(id, msg);
        }
    }
    let noisy_result: Value = serde_json::from_str(answers[&2]["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(noisy_result["status"], "success", "{noisy_result}");
    assert_eq!(noisy_result["returnValue"], json!([null]), "stdin is at EOF for code and children");
    assert!(noisy_result["output"].as_array().unwrap().contains(&json!("from-child")), "{noisy_result}");
    let two: Value = serde_json::from_str(answers[&3]["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(two["returnValue"], 2);
    // The default playbooks were installed during this startup, without a byte on stdout.
    assert!(dir.path().join("playbooks/http-helper/playbook.md").exists());
    drop(stdin);
    child.wait().unwrap();
}
