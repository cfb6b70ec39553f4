//! The proxy under failure: an upstream that crashes mid-call, one that never answers, many
//! concurrent calls over one connection, and a config file edited while the server runs.

mod common;

use common::{Server, upstream_entry, wait_gone};
use serde_json::{Value, json};

#[tokio::test]
async fn crash_mid_call_then_reconnect() {
    let s = Server::with_upstreams("", json!({ "up": upstream_entry() }), &[]).await;
    let r = s
        .run(
            r#"
            const up = await mcpFactory.load("up");
            const before = await up.callTool("pid");
            let crash;
            try { await up.callTool("crash"); } catch (e) { crash = e.message; }
            const after = await up.callTool("pid");
            ({ crash, restarted: before !== after, sum: await up.callTool("add", { a: 1, b: 1 }) })
            "#,
        )
        .await;
    let v = r.value();
    assert!(v["crash"].as_str().unwrap().contains("the connection was lost"), "{v}");
    assert_eq!(v["restarted"], json!(true));
    assert_eq!(v["sum"], json!(2));
}

#[tokio::test]
async fn hanging_upstreams_time_out_and_the_server_lives() {
    let servers = json!({
        "up": upstream_entry(),
        // Never answers initialize.
        "mute": { "command": "sleep", "args": ["600"] },
        "missing": { "command": "/nonexistent/server" },
        "not-on-path": { "command": "no-such-mcp-server-command" },
        "exits": { "command": "false" },
        "unreachable": { "url": "http://127.0.0.1:9/mcp" },
    });
    let s = Server::with_upstreams("", servers, &[("MCP_CONDUCTOR_MCP_CONNECT_TIMEOUT", "500")]).await;
    let r = s.run(r#"await mcpFactory.load("mute")"#).await;
    assert!(r.error().contains("cannot connect to upstream 'mute': no answer to initialize within 500 ms"), "{r:?}");
    let r = s.run(r#"await mcpFactory.load("missing")"#).await;
    assert!(r.error().contains("cannot start `/nonexistent/server`"), "{r:?}");
    // Each says what to do, in words, never with Rust type names.
    for (server, says) in [
        ("not-on-path", "cannot start `no-such-mcp-server-command`: not found on PATH ("),
        ("exits", "`false` ended before answering initialize"),
        ("unreachable", "the server could not be reached"),
    ] {
        let r = s.run(&format!("await mcpFactory.load({server:?})")).await;
        assert!(r.error().contains(says), "{server}: {r:?}");
        assert!(!r.error().contains("rmcp::") && !r.error().contains("Transport<"), "{server}: {r:?}");
    }
    let r = s.run(r#"await mcpFactory.load("not-on-path")"#).await;
    assert!(r.error().contains("Give its absolute path"), "{r:?}");

    // A call slower than the execution's timeout ends the execution, not the server.
    let r = s.run_timeout(r#"await (await mcpFactory.load("up")).callTool("slow", { ms: 60000 })"#, 1000).await;
    assert_eq!(r.error_type(), "timeout");
    let r = s.run(r#"await (await mcpFactory.load("up")).callTool("slow", { ms: 10 })"#).await;
    assert_eq!(r.value(), &json!("slept 10 ms"));
    s.assert_healthy().await;

    let listed = s.call("list_mcp_servers", json!({})).await.unwrap().structured_content.unwrap();
    let statuses: Vec<&Value> = listed["servers"].as_array().unwrap().iter().map(|s| &s["status"]).collect();
    let failed = json!("failed");
    assert_eq!(statuses, [&json!("connected"), &failed, &failed, &failed, &failed, &failed]);
}

#[tokio::test]
async fn parallel_calls_from_concurrent_executions_share_one_connection() {
    let s = Server::with_upstreams("", json!({ "up": upstream_entry() }), &[]).await;
    let code = |n: usize| {
        format!(
            r#"
            const up = await mcpFactory.load("up");
            const sums = await Promise.all([0, 1, 2, 3, 4].map((i) => up.callTool("add", {{ a: {n}, b: i }})));
            ({{ sums, pid: await up.callTool("pid") }})
            "#
        )
    };
    let runs = futures::future::join_all((0..4).map(|n| {
        let code = code(n * 10);
        let s = &s;
        async move { s.run(&code).await }
    }))
    .await;
    let mut pids = Vec::new();
    for (n, r) in runs.iter().enumerate() {
        let v = r.value();
        let expected: Vec<usize> = (0..5).map(|i| n * 10 + i).collect();
        assert_eq!(v["sums"], json!(expected));
        pids.push(v["pid"].clone());
    }
    pids.dedup();
    assert_eq!(pids.len(), 1, "one upstream process for all executions: {pids:?}");
}

#[tokio::test]
async fn config_edited_while_running() {
    let s = Server::with_upstreams("", json!({ "up": upstream_entry() }), &[]).await;
    let first = pid(&s, "up").await;
    assert_eq!(pid(&s, "up").await, first, "unchanged config keeps the connection");

    let config = s.upstream_config.clone().unwrap();
    let write = |servers: Value| std::fs::write(&config, json!({ "mcpServers": servers }).to_string()).unwrap();
    // A changed entry reconnects; a new one appears.
    let mut changed = upstream_entry();
    changed["env"] = json!({ "MARK": "2" });
    write(json!({ "up": changed, "second": upstream_entry() }));
    let second = pid(&s, "up").await;
    assert_ne!(second, first, "a changed entry reconnects");
    let r = s.run(r#"await (await mcpFactory.load("up")).callTool("env", { name: "MARK" })"#).await;
    assert_eq!(r.value(), &json!("2"));
    assert!(pid(&s, "second").await.is_number());

    // A removed entry is gone and its process is stopped.
    write(json!({ "second": upstream_entry() }));
    let r = s.run(r#"await mcpFactory.load("up")"#).await;
    assert!(r.error().contains("no upstream MCP server named 'up'; configured: second"), "{r:?}");
    let gone = second.as_u64().unwrap() as u32;
    assert!(wait_gone(gone).await, "upstream {gone} still running after its entry was removed");
}

async fn pid(s: &Server, name: &str) -> Value {
    let code = format!(r#"await (await mcpFactory.load("{name}")).callTool("pid")"#);
    s.run(&code).await.value().clone()
}

#[tokio::test]
async fn upstreams_die_with_the_server() {
    for how in ["client closes stdin", "SIGKILL"] {
        let s = Server::with_upstreams("", json!({ "up": upstream_entry() }), &[]).await;
        let upstream = pid(&s, "up").await.as_u64().unwrap() as u32;
        match how {
            "SIGKILL" => unsafe {
                libc::kill(s.pid as i32, libc::SIGKILL);
            },
            _ => drop(s.client.cancel().await),
        }
        assert!(wait_gone(upstream).await, "upstream {upstream} outlived the server ({how})");
    }
}
