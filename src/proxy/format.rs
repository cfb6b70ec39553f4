//! Pure conversions: an upstream's tool result into the value `callTool` returns, and tool
//! schemas into one-line signatures for `list_mcp_servers`.

use rmcp::model::{CallToolResult, Tool};
use serde_json::Value;

/// What `callTool` returns: the upstream's `structuredContent`, else the parsed JSON of a single
/// text item (or the text itself), else all-text content joined, else the raw content array.
/// An `isError` result is `Err` with the upstream's message.
pub fn unwrap_result(result: &CallToolResult) -> Result<Value, String> {
    let texts: Vec<&str> = result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.as_str())).collect();
    let all_text = texts.len() == result.content.len();
    if result.is_error == Some(true) {
        let message = texts.join("\n");
        return Err(if message.trim().is_empty() { "the tool reported an error without a message".into() } else { message });
    }
    if let Some(structured) = &result.structured_content {
        return Ok(structured.clone());
    }
    match texts.as_slice() {
        [single] if all_text => Ok(serde_json::from_str(single).unwrap_or_else(|_| Value::String(single.to_string()))),
        _ if all_text && !texts.is_empty() => Ok(Value::String(texts.join("\n"))),
        _ => Ok(serde_json::to_value(&result.content).unwrap_or(Value::Null)),
    }
}

/// `name(a: string, b?: number) - first line of the description`.
pub fn signature(tool: &Tool) -> String {
    let schema = &tool.input_schema;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let params: Vec<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(name, prop)| {
                    let optional = if required.contains(&name.as_str()) { "" } else { "?" };
                    format!("{name}{optional}: {}", type_name(prop))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut line = format!("{}({})", tool.name, params.join(", "));
    if let Some(desc) = tool.description.as_deref().and_then(|d| d.lines().find(|l| !l.trim().is_empty())) {
        let desc = desc.trim();
        let short: String = desc.chars().take(120).collect();
        let ellipsis = if short.len() < desc.len() { "..." } else { "" };
        line.push_str(&format!(" - {short}{ellipsis}"));
    }
    line
}

fn type_name(prop: &Value) -> String {
    if let Some(values) = prop.get("enum").and_then(Value::as_array) {
        return values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" | ");
    }
    match prop.get("type") {
        Some(Value::String(t)) if t == "array" => {
            let item = prop.get("items").map(type_name).unwrap_or_else(|| "any".into());
            if item.contains(' ') { format!("({item})[]") } else { format!("{item}[]") }
        }
        Some(Value::String(t)) if t == "integer" => "number".into(),
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" | "),
        _ => ["anyOf", "oneOf"]
            .iter()
            .find_map(|k| prop.get(*k).and_then(Value::as_array))
            .map(|alts| alts.iter().map(type_name).collect::<Vec<_>>().join(" | "))
            .unwrap_or_else(|| "any".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ContentBlock;
    use serde_json::json;
    use std::sync::Arc;

    fn tool(schema: Value, desc: &str) -> Tool {
        Tool::new("add", desc.to_string(), Arc::new(schema.as_object().unwrap().clone()))
    }

    #[test]
    fn unwrap_prefers_structured_then_json_then_text() {
        let mut r = CallToolResult::success(vec![ContentBlock::text("{\"a\":1}")]);
        assert_eq!(unwrap_result(&r), Ok(json!({"a": 1})));
        r.structured_content = Some(json!({"b": 2}));
        assert_eq!(unwrap_result(&r), Ok(json!({"b": 2})));
        let r = CallToolResult::success(vec![ContentBlock::text("hello")]);
        assert_eq!(unwrap_result(&r), Ok(json!("hello")));
        let r = CallToolResult::success(vec![ContentBlock::text("a"), ContentBlock::text("b")]);
        assert_eq!(unwrap_result(&r), Ok(json!("a\nb")));
        let r = CallToolResult::success(vec![]);
        assert_eq!(unwrap_result(&r), Ok(json!([])));
    }

    #[test]
    fn unwrap_errors_carry_the_message() {
        let r = CallToolResult::error(vec![ContentBlock::text("boom")]);
        assert_eq!(unwrap_result(&r), Err("boom".into()));
        let r = CallToolResult::error(vec![]);
        assert!(unwrap_result(&r).unwrap_err().contains("without a message"));
    }

    #[test]
    fn signatures() {
        let t = tool(
            json!({"type": "object", "properties": {
                "a": {"type": "integer"}, "b": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "mode": {"enum": ["x", "y"]}
            }, "required": ["a"]}),
            "Adds two numbers.\nMore text.",
        );
        assert_eq!(signature(&t), "add(a: number, b?: string, tags?: string[], mode?: \"x\" | \"y\") - Adds two numbers.");
        let t = tool(json!({"type": "object"}), "");
        assert_eq!(signature(&t), "add()");
    }
}
