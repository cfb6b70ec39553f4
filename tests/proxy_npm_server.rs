//! A third-party upstream from the npm registry: the MCP reference "everything" server, started
//! with npx. Skipped (with a message) only when node/npx is absent.

mod common;

use common::Server;
use serde_json::json;

const PACKAGE: &str = "@modelcontextprotocol/server-everything@2026.8.31";

#[tokio::test]
async fn everything_server_from_npm() {
    if std::process::Command::new("npx").arg("--version").output().is_err() {
        eprintln!("SKIPPED everything_server_from_npm: npx (Node.js) is not installed");
        return;
    }
    // The servers' HOME is a temp dir: keep npm's download cache in the real one.
    let cache = std::env::var("HOME").map(|h| format!("{h}/.npm")).unwrap_or_else(|_| "/tmp/.npm".into());
    let servers = json!({
        "everything": {
            "command": "npx",
            "args": ["-y", PACKAGE, "stdio"],
            "env": { "npm_config_cache": cache, "npm_config_update_notifier": "false" },
        }
    });
    // The first start may download the package.
    let s = Server::with_upstreams("", servers, &[("MCP_CONDUCTOR_MCP_CONNECT_TIMEOUT", "180000")]).await;
    let r = s
        .run_timeout(
            r#"
            const everything = await mcpFactory.load("everything");
            const tools = await everything.listTools();
            ({
              hasEcho: tools.some((t) => t.name === "echo"),
              echo: await everything.callTool("echo", { message: "hello from the sandbox" }),
              resources: (await everything.listResources()).length,
              prompts: (await everything.listPrompts()).map((p) => p.name),
            })
            "#,
            200_000,
        )
        .await;
    let v = r.value();
    assert_eq!(v["hasEcho"], json!(true), "{v}");
    assert!(v["resources"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(!v["prompts"].as_array().unwrap().is_empty(), "{v}");
    let echo = v["echo"].to_string();
    assert!(echo.contains("hello from the sandbox"), "{echo}");
}
