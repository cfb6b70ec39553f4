//! The MCP surface: server info, tool list, schemas; the CLI.
mod common;

use std::process::Command;

use common::{BIN, Server};

#[tokio::test]
async fn server_identifies_itself() {
    let s = Server::start("allow-net").await;
    let info = s.client.peer_info().expect("initialized");
    let server = info.server_info.clone().expect("serverInfo");
    assert_eq!(server.name, "mcp-conductor");
    assert_eq!(server.version, env!("CARGO_PKG_VERSION"));
    let instructions = info.instructions.clone().unwrap_or_default();
    assert!(instructions.contains("--allow-net"), "{instructions}");
}

#[tokio::test]
async fn run_deno_code_declares_its_schemas() {
    let s = Server::start("").await;
    let tools = s.client.list_all_tools().await.unwrap();
    let tool = tools.iter().find(|t| t.name == "run_deno_code").expect("run_deno_code listed");
    let input = serde_json::to_value(&*tool.input_schema).unwrap();
    assert_eq!(input["required"], serde_json::json!(["deno_code"]));
    for key in ["deno_code", "timeout", "globals"] {
        assert!(input["properties"][key].is_object(), "{key} in {input}");
    }
    let output = serde_json::to_value(tool.output_schema.as_deref().expect("outputSchema")).unwrap();
    for key in [
        "status", "output", "truncated", "returnValue", "returnValueFile", "error", "errorType", "exitCode",
        "queueTime", "executionTime", "stdout", "stderr",
    ] {
        assert!(output["properties"][key].is_object(), "{key} in {output}");
    }
}

#[test]
fn help_documents_every_env_var() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "MCP_CONDUCTOR_WORKSPACE",
        "MCP_CONDUCTOR_ROOT",
        "MCP_CONDUCTOR_RUN_ARGS",
        "MCP_CONDUCTOR_DEFAULT_TIMEOUT",
        "MCP_CONDUCTOR_MAX_TIMEOUT",
        "MCP_CONDUCTOR_MAX_MEMORY_MB",
        "MCP_CONDUCTOR_MAX_OUTPUT_BYTES",
        "MCP_CONDUCTOR_MAX_RETURN_BYTES",
        "MCP_CONDUCTOR_MAX_CONCURRENCY",
        "MCP_CONDUCTOR_POOL_SIZE",
        "MCP_CONDUCTOR_LOG",
    ] {
        assert!(help.contains(var), "--help lacks {var}");
    }
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}
