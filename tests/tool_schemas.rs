//! The tools as clients see them (`tools/list`: names, descriptions, input and output schemas)
//! against a golden file, as rmcp's `test_message_schema.rs` does. A change to a tool's
//! interface shows up as a diff of `tests/golden/tools_list.json`; regenerate it with
//! `MCP_CONDUCTOR_UPDATE_GOLDEN=1 cargo test ... --test tool_schemas` and review the diff.

mod common;

use common::Server;
use serde_json::{Value, json};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/tools_list.json");

#[tokio::test]
async fn tools_list_matches_the_golden_file() {
    let s = Server::start("").await;
    let mut tools = s.client.list_all_tools().await.expect("tools/list");
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    let actual = serde_json::to_string_pretty(&json!({ "tools": tools })).unwrap() + "\n";
    if std::env::var_os("MCP_CONDUCTOR_UPDATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(GOLDEN)
        .unwrap_or_else(|e| panic!("{GOLDEN}: {e} (create it with MCP_CONDUCTOR_UPDATE_GOLDEN=1)"));
    assert!(
        actual == expected,
        "tools/list differs from {GOLDEN}; if the change is intended, regenerate it with \
         MCP_CONDUCTOR_UPDATE_GOLDEN=1 and review the diff.\nactual:\n{actual}"
    );
}

/// What the official clients' validators trip on: formats they do not know, and keys that are
/// sometimes absent yet listed as required.
#[tokio::test]
async fn schemas_use_only_standard_keywords() {
    let s = Server::start("").await;
    for tool in s.client.list_all_tools().await.expect("tools/list") {
        let mut schemas = vec![Value::Object(tool.input_schema.as_ref().clone())];
        schemas.extend(tool.output_schema.map(|o| Value::Object(o.as_ref().clone())));
        for schema in schemas {
            let mut formats = Vec::new();
            collect_formats(&schema, &mut formats);
            assert!(formats.is_empty(), "{}: non-standard formats {formats:?}", tool.name);
            assert_eq!(schema["type"], "object", "{}", tool.name);
        }
    }
}

fn collect_formats(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(f)) = o.get("format") {
                out.push(f.clone());
            }
            o.values().for_each(|c| collect_formats(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| collect_formats(c, out)),
        _ => {}
    }
}
