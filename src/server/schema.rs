//! Tool schemas, derived from the types that are deserialized (input) or serialized (output), in
//! the form the official MCP clients validate against (the TypeScript SDK with ajv, the Python
//! SDK with jsonschema):
//! - an output field that is skipped when empty (`skip_serializing_if`) is optional and never
//!   `null`: it is absent, not null; a field always written stays required;
//! - integer/float `format`s schemars adds (`int32`, `uint64`, `double`) are dropped: they are
//!   not JSON Schema formats and ajv warns about unknown formats;
//! - subschemas are inlined and the root's title/description dropped (noise for the model).

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use schemars::generate::{Contract, SchemaSettings};
use serde_json::Value;

/// The `inputSchema` of a tool taking `T`.
pub fn input<T: JsonSchema>() -> Arc<JsonObject> {
    generate::<T>(Contract::Deserialize)
}

/// The `outputSchema` of a tool whose `structuredContent` is a serialized `T`.
pub fn output<T: JsonSchema>() -> Arc<JsonObject> {
    generate::<T>(Contract::Serialize)
}

fn generate<T: JsonSchema>(contract: Contract) -> Arc<JsonObject> {
    let output = matches!(contract, Contract::Serialize);
    let mut settings = SchemaSettings::draft2020_12();
    settings.contract = contract;
    settings.inline_subschemas = true;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = serde_json::to_value(schema).expect("a schema serializes");
    normalize(&mut value, output);
    let Value::Object(mut object) = value else { panic!("{}: schema is not an object", std::any::type_name::<T>()) };
    for key in ["$schema", "title", "description"] {
        object.remove(key);
    }
    assert_eq!(object.get("type"), Some(&Value::from("object")), "{}: a tool schema must be an object", std::any::type_name::<T>());
    Arc::new(object)
}

/// Formats schemars emits for Rust number types; not defined by JSON Schema.
const NUMBER_FORMATS: &[&str] = &[
    "int8", "int16", "int32", "int64", "int128", "uint", "uint8", "uint16", "uint32", "uint64", "uint128", "float",
    "double",
];

fn normalize(value: &mut Value, output: bool) {
    match value {
        Value::Object(object) => {
            if object.get("format").and_then(Value::as_str).is_some_and(|f| NUMBER_FORMATS.contains(&f)) {
                object.remove("format");
            }
            if output {
                strip_null_from_optional(object);
            }
            for child in object.values_mut() {
                normalize(child, output);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| normalize(v, output)),
        _ => {}
    }
}

/// In an output object schema, a property that is not required is one that is skipped when
/// empty: it is never sent as `null`, so `null` is not one of its types.
fn strip_null_from_optional(object: &mut JsonObject) {
    let required: Vec<String> = match object.get("required") {
        Some(Value::Array(names)) => names.iter().filter_map(|n| n.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    };
    let Some(Value::Object(properties)) = object.get_mut("properties") else { return };
    for (name, property) in properties.iter_mut() {
        if !required.contains(name)
            && let Value::Object(property) = property
        {
            remove_null(property);
        }
    }
}

fn remove_null(schema: &mut JsonObject) {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            schema.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    // `anyOf: [X, {type: null}]` (an optional enum or struct) becomes X.
    if let Some(Value::Array(alternatives)) = schema.get_mut("anyOf") {
        alternatives.retain(|a| a.get("type") != Some(&Value::from("null")));
        if alternatives.len() == 1
            && let Some(Value::Object(only)) = alternatives.pop()
        {
            schema.remove("anyOf");
            for (k, v) in only {
                schema.entry(k).or_insert(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use serde_json::json;

    #[allow(dead_code)]
    #[derive(Serialize, schemars::JsonSchema)]
    struct Example {
        always: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        sometimes: Option<i32>,
        nullable: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        kind: Option<Kind>,
        ratio: f64,
    }

    #[allow(dead_code)]
    #[derive(Serialize, schemars::JsonSchema)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        A,
        B,
    }

    #[test]
    fn optional_output_fields_are_absent_not_null_and_formats_are_standard() {
        let schema = super::output::<Example>();
        assert_eq!(schema["required"], json!(["always", "nullable", "ratio"]));
        let p = &schema["properties"];
        assert_eq!(p["always"], json!({"type": "integer", "minimum": 0}));
        assert_eq!(p["sometimes"], json!({"type": "integer"}));
        assert_eq!(p["nullable"], json!({"type": ["string", "null"]}));
        assert_eq!(p["kind"], json!({"type": "string", "enum": ["a", "b"]}));
        assert_eq!(p["ratio"], json!({"type": "number"}));
        assert!(schema.get("title").is_none() && schema.get("$schema").is_none());
    }
}
