//! Tool schemas into TypeScript declarations (`get_tools` with `format: "typescript"`): one
//! interface per input and per output schema, and the server object `mcpFactory.load()` returns,
//! with a method per tool. Pure: JSON Schema in, TypeScript text out.
//!
//! Covered: primitive types, `enum`/`const` as literal unions, `type` arrays, `nullable`, arrays
//! and tuples (`prefixItems`), objects (required vs optional, `additionalProperties` and
//! `patternProperties` as index signatures), `oneOf`/`anyOf` as unions, `allOf` as
//! intersections, local `$ref`s (`#`, `#/$defs/..`, `#/definitions/..`, recursive ones too) as
//! named types. Anything else is `unknown`.

use std::collections::BTreeMap;

use rmcp::model::Tool;
use serde_json::{Map, Value};

/// Names that never become methods of a loaded server (`js/conductor.js` has the same list):
/// the object's own members, `then` (a tool named `then` would make `await mcpFactory.load()`
/// treat the object as a promise), `constructor` and `__proto__`. Those tools stay reachable
/// through `callTool`.
pub const RESERVED_METHODS: [&str; 12] = [
    "name",
    "tools",
    "listTools",
    "callTool",
    "callToolRaw",
    "listResources",
    "readResource",
    "listPrompts",
    "getPrompt",
    "then",
    "constructor",
    "__proto__",
];

/// A JavaScript identifier (ASCII): what can be a method name and a property written bare.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Whether a tool becomes a method of the loaded server object.
pub fn is_method(tool_name: &str) -> bool {
    is_identifier(tool_name) && !RESERVED_METHODS.contains(&tool_name)
}

/// The declarations for `tools` of server `server`.
pub fn declarations(server: &str, tools: &[&Tool]) -> String {
    let mut out = String::new();
    let var = if is_identifier(server) && !RESERVED_METHODS.contains(&server) { server.to_string() } else { "server".into() };
    out.push_str(&format!(
        "// TypeScript declarations for the tools of MCP server {server:?}.\n\
         // const {var} = await mcpFactory.load({server:?});\n\
         // Each tool is a method: await {var}.<tool>(args); callTool(name, args) reaches every tool.\n\
         // A method returns the tool's structuredContent (else its JSON text parsed, else its text)\n\
         // and throws with the tool's message when it reports an error.\n\n"
    ));
    let mut names = Names::default();
    let mut methods = Vec::new();
    for tool in tools {
        let base = names.unique(&pascal(&tool.name));
        let input = format!("{base}Input");
        let output = format!("{base}Output");
        let input_schema = Value::Object(tool.input_schema.as_ref().clone());
        let about = tool.description.as_deref().map(|d| format!("{}: {d}", tool.name));
        declare(&mut out, &input, &input_schema, about.as_deref());
        match &tool.output_schema {
            Some(schema) => declare(&mut out, &output, &Value::Object(schema.as_ref().clone()), None),
            None => out.push_str(&format!(
                "/** {} declares no output schema: the result's shape is not known. */\nexport type {output} = unknown;\n\n",
                escape_comment(&tool.name)
            )),
        }
        methods.push((tool, input, output));
    }
    out.push_str(&format!("/** What `await mcpFactory.load({server:?})` returns. */\nexport interface {}Server {{\n", names.unique(&pascal(server))));
    out.push_str(&format!("  readonly name: {};\n", string_literal(server)));
    out.push_str("  /** Tool names as of load(). */\n  readonly tools: readonly string[];\n");
    out.push_str("  listTools(): Promise<unknown[]>;\n");
    out.push_str("  /** Any tool by name, with the methods' unwrap and throw rules. */\n");
    out.push_str("  callTool(name: string, args?: Record<string, unknown>): Promise<unknown>;\n");
    out.push_str("  /** The tool's CallToolResult as the server sent it, errors included. */\n");
    out.push_str("  callToolRaw(name: string, args?: Record<string, unknown>): Promise<unknown>;\n");
    for (tool, input, output) in methods {
        if is_method(&tool.name) {
            if let Some(description) = &tool.description {
                out.push_str(&doc(description, "  "));
            }
            out.push_str(&format!("  {}(args: {input}): Promise<{output}>;\n", tool.name));
        } else {
            let why = if is_identifier(&tool.name) { "a reserved name" } else { "not an identifier" };
            out.push_str(&format!(
                "  // {}: {why}, so not a method: await callTool({}, args as {input}) as {output}\n",
                escape_line(&tool.name),
                string_literal(&tool.name)
            ));
        }
    }
    out.push_str("}\n");
    out
}

/// `export interface Name {..}` for an object schema with properties, else `export type Name = ..;`,
/// preceded by the schema's named definitions; documented with the schema's description, else
/// with `about`.
fn declare(out: &mut String, name: &str, schema: &Value, about: Option<&str>) {
    let defs = definitions(schema, name);
    let ctx = Ctx { root: name, defs: &defs };
    for (key, alias) in &defs {
        let def = definition(schema, key).unwrap_or(&Value::Null);
        if let Some(description) = def.get("description").and_then(Value::as_str) {
            out.push_str(&doc(description, ""));
        }
        out.push_str(&format!("export type {alias} = {};\n", ctx.ts(def, "", 0)));
    }
    if let Some(description) = schema.get("description").and_then(Value::as_str).or(about) {
        out.push_str(&doc(description, ""));
    }
    let is_plain_object = schema.get("properties").is_some_and(Value::is_object)
        && !["oneOf", "anyOf", "allOf", "$ref", "enum", "const"].iter().any(|k| schema.get(*k).is_some());
    if is_plain_object {
        out.push_str(&format!("export interface {name} {}\n\n", ctx.object(schema, "", 0)));
    } else {
        out.push_str(&format!("export type {name} = {};\n\n", ctx.ts(schema, "", 0)));
    }
}

/// `$defs`/`definitions` keys → type alias names (`<Root><Key>`).
fn definitions(schema: &Value, root: &str) -> BTreeMap<String, String> {
    let mut defs = BTreeMap::new();
    for section in ["$defs", "definitions"] {
        if let Some(map) = schema.get(section).and_then(Value::as_object) {
            for key in map.keys() {
                defs.entry(format!("#/{section}/{key}")).or_insert_with(|| format!("{root}{}", pascal(key)));
            }
        }
    }
    defs
}

fn definition<'a>(schema: &'a Value, reference: &str) -> Option<&'a Value> {
    let (section, key) = reference.strip_prefix("#/")?.split_once('/')?;
    schema.get(section)?.get(key)
}

struct Ctx<'a> {
    root: &'a str,
    defs: &'a BTreeMap<String, String>,
}

const MAX_DEPTH: usize = 32;

impl Ctx<'_> {
    /// The TypeScript type of `schema`; `indent` is the current line's indentation.
    fn ts(&self, schema: &Value, indent: &str, depth: usize) -> String {
        if depth > MAX_DEPTH {
            return "unknown".into();
        }
        let Some(obj) = schema.as_object() else {
            // `true` accepts anything, `false` nothing.
            return if schema == &Value::Bool(false) { "never".into() } else { "unknown".into() };
        };
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            return match reference {
                "#" => self.root.to_string(),
                r => self.defs.get(r).cloned().unwrap_or_else(|| "unknown".into()),
            };
        }
        if let Some(value) = obj.get("const") {
            return literal(value);
        }
        if let Some(values) = obj.get("enum").and_then(Value::as_array) {
            return union(values.iter().map(literal).collect());
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(options) = obj.get(key).and_then(Value::as_array) {
                let base = self.without(obj, &[key]);
                let members = options.iter().map(|o| self.ts(o, indent, depth + 1)).collect();
                return self.intersect_base(base, union(members), indent, depth);
            }
        }
        if let Some(parts) = obj.get("allOf").and_then(Value::as_array) {
            let base = self.without(obj, &["allOf"]);
            let members: Vec<String> = parts.iter().map(|p| wrap(self.ts(p, indent, depth + 1))).collect();
            return self.intersect_base(base, members.join(" & "), indent, depth);
        }
        let types: Vec<&str> = match obj.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ if obj.contains_key("properties") || obj.contains_key("additionalProperties") => vec!["object"],
            _ if obj.contains_key("items") || obj.contains_key("prefixItems") => vec!["array"],
            _ => vec![],
        };
        if types.is_empty() {
            return "unknown".into();
        }
        let mut members: Vec<String> = types
            .iter()
            .map(|t| match *t {
                "string" => "string".into(),
                "number" | "integer" => "number".into(),
                "boolean" => "boolean".into(),
                "null" => "null".into(),
                "array" => self.array(obj, indent, depth),
                "object" => self.object(schema, indent, depth),
                _ => "unknown".into(),
            })
            .collect();
        if obj.get("nullable") == Some(&Value::Bool(true)) {
            members.push("null".into());
        }
        union(members)
    }

    /// `schema` without `keys`, when anything that constrains the type is left (e.g. properties
    /// next to a `oneOf`).
    fn without(&self, obj: &Map<String, Value>, keys: &[&str]) -> Option<Value> {
        let rest: Map<String, Value> = obj.iter().filter(|(k, _)| !keys.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        let constrains = ["type", "properties", "items", "additionalProperties"].iter().any(|k| rest.contains_key(*k));
        constrains.then_some(Value::Object(rest))
    }

    fn intersect_base(&self, base: Option<Value>, combined: String, indent: &str, depth: usize) -> String {
        match base {
            Some(base) => format!("{} & ({combined})", wrap(self.ts(&base, indent, depth + 1))),
            None => combined,
        }
    }

    fn array(&self, obj: &Map<String, Value>, indent: &str, depth: usize) -> String {
        if let Some(prefix) = obj.get("prefixItems").and_then(Value::as_array) {
            let items: Vec<String> = prefix.iter().map(|p| self.ts(p, indent, depth + 1)).collect();
            return format!("[{}]", items.join(", "));
        }
        match obj.get("items") {
            Some(Value::Array(tuple)) => {
                let items: Vec<String> = tuple.iter().map(|p| self.ts(p, indent, depth + 1)).collect();
                format!("[{}]", items.join(", "))
            }
            Some(items) => format!("{}[]", wrap(self.ts(items, indent, depth + 1))),
            None => "unknown[]".into(),
        }
    }

    /// `{ a: T; b?: U; [key: string]: V }`, one property per line.
    fn object(&self, schema: &Value, indent: &str, depth: usize) -> String {
        let properties = schema.get("properties").and_then(Value::as_object);
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let additional = schema.get("additionalProperties");
        let patterns = schema.get("patternProperties").and_then(Value::as_object);
        let has_props = properties.is_some_and(|p| !p.is_empty());
        // An index signature must admit every property's type: with named properties it is
        // `unknown`, else the schema's.
        let index = match (additional, patterns) {
            (Some(Value::Bool(false)), _) => None,
            (Some(Value::Object(extra)), _) if !has_props => Some(self.ts(&Value::Object(extra.clone()), indent, depth + 1)),
            (_, Some(patterns)) if !has_props && additional.is_none() => {
                Some(union(patterns.values().map(|p| self.ts(p, indent, depth + 1)).collect()))
            }
            (Some(_), _) | (_, Some(_)) => Some("unknown".into()),
            (None, None) if !has_props => Some("unknown".into()),
            (None, None) => None,
        };
        let inner = format!("{indent}  ");
        let mut out = String::from("{\n");
        for (name, property) in properties.into_iter().flatten() {
            if let Some(description) = property.get("description").and_then(Value::as_str) {
                out.push_str(&doc(description, &inner));
            }
            let optional = if required.contains(&name.as_str()) { "" } else { "?" };
            let key = if is_identifier(name) { name.clone() } else { string_literal(name) };
            out.push_str(&format!("{inner}{key}{optional}: {};\n", self.ts(property, &inner, depth + 1)));
        }
        if let Some(index) = index {
            out.push_str(&format!("{inner}[key: string]: {index};\n"));
        }
        out.push_str(indent);
        out.push('}');
        out
    }
}

/// `A | B`, duplicates dropped; one member stays as it is; none is `never`.
fn union(members: Vec<String>) -> String {
    let mut unique: Vec<String> = Vec::new();
    for m in members {
        if !unique.contains(&m) {
            unique.push(m);
        }
    }
    match unique.len() {
        0 => "never".into(),
        1 => unique.remove(0),
        _ => unique.iter().map(|m| wrap(m.clone())).collect::<Vec<_>>().join(" | "),
    }
}

/// Parenthesized when it is a union or intersection (for `T[]`, `A & B`, nested unions).
fn wrap(ts: String) -> String {
    let top_level_operator = {
        let mut depth = 0i32;
        let mut in_string = false;
        let mut escaped = false;
        let mut found = false;
        for c in ts.chars() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '{' | '(' | '[' | '<' if !in_string => depth += 1,
                '}' | ')' | ']' | '>' if !in_string => depth -= 1,
                '|' | '&' if !in_string && depth == 0 => found = true,
                _ => {}
            }
        }
        found
    };
    if top_level_operator { format!("({ts})") } else { ts }
}

fn literal(value: &Value) -> String {
    match value {
        Value::String(s) => string_literal(s),
        Value::Number(_) | Value::Bool(_) | Value::Null => value.to_string(),
        // Objects and arrays as literal types would need their own rendering.
        _ => "unknown".into(),
    }
}

/// A JSON string is a valid TypeScript string literal.
fn string_literal(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// A JSDoc block at `indent`.
fn doc(text: &str, indent: &str) -> String {
    let text = escape_comment(text.trim());
    if text.is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() == 1 {
        return format!("{indent}/** {} */\n", lines[0]);
    }
    let mut out = format!("{indent}/**\n");
    for line in lines {
        out.push_str(&format!("{indent} * {}\n", line.trim_end()).replace(" * \n", " *\n"));
    }
    out.push_str(&format!("{indent} */\n"));
    out
}

fn escape_comment(text: &str) -> String {
    text.replace("*/", "*\\/")
}

/// For `//` comments: one line.
fn escape_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// `search_issues` → `SearchIssues`, `get-user` → `GetUser`; a leading digit gets `T`.
fn pascal(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    out
}

/// Type names already used (two tools can map to one PascalCase name).
#[derive(Default)]
struct Names(Vec<String>);

impl Names {
    fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 2;
        while self.0.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        self.0.push(name.clone());
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str, description: &str, input: Value, output: Option<Value>) -> Tool {
        let mut value = json!({ "name": name, "description": description, "inputSchema": input });
        if let Some(output) = output {
            value["outputSchema"] = output;
        }
        serde_json::from_value(value).unwrap()
    }

    /// The text parses as TypeScript (deno_ast, the parser the server transpiles with).
    fn assert_parses(ts: &str) {
        let parsed = deno_ast::parse_module(deno_ast::ParseParams {
            specifier: deno_core::url::Url::parse("file:///decl.ts").unwrap(),
            text: ts.into(),
            media_type: deno_ast::MediaType::TypeScript,
            capture_tokens: false,
            scope_analysis: false,
            maybe_syntax: None,
        });
        assert!(parsed.is_ok(), "does not parse: {:?}\n{ts}", parsed.err());
    }

    /// Tools as the reference `server-everything` declares them.
    fn everything() -> Vec<Tool> {
        vec![
            tool("echo", "Echoes back the input", json!({"type":"object","properties":{"message":{"type":"string","description":"Message to echo"}},"required":["message"]}), None),
            tool("add", "Adds two numbers", json!({"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]}), None),
            tool(
                "get-structured-content",
                "Returns structured content */ with a comment end",
                json!({"type":"object","properties":{"location":{"type":"string","enum":["New York","Chicago","Los Angeles"]}},"required":["location"]}),
                Some(json!({"type":"object","properties":{"temperature":{"type":"number"},"conditions":{"type":"string"},"humidity":{"type":"number"}},"required":["temperature","conditions","humidity"]})),
            ),
            tool("longRunningOperation", "Demonstrates a long running operation", json!({"type":"object","properties":{"duration":{"type":"number","default":10},"steps":{"type":"integer"}}}), None),
            tool("then", "A tool whose name would break await", json!({"type":"object"}), None),
        ]
    }

    #[test]
    fn everything_server() {
        let tools = everything();
        let refs: Vec<&Tool> = tools.iter().collect();
        let ts = declarations("everything", &refs);
        assert_parses(&ts);
        for needle in [
            "export interface EchoInput {\n  /** Message to echo */\n  message: string;\n}",
            "export interface AddInput {\n  a: number;\n  b: number;\n}",
            "location: \"New York\" | \"Chicago\" | \"Los Angeles\";",
            "export interface GetStructuredContentOutput {\n  temperature: number;",
            "/** echo declares no output schema: the result's shape is not known. */\nexport type EchoOutput = unknown;",
            "duration?: number;",
            "/** get-structured-content: Returns structured content *\\/ with a comment end */",
            "  echo(args: EchoInput): Promise<EchoOutput>;",
            "  // get-structured-content: not an identifier, so not a method: await callTool(\"get-structured-content\", args as GetStructuredContentInput) as GetStructuredContentOutput",
            "  // then: a reserved name, so not a method",
            "export interface EverythingServer {",
        ] {
            assert!(ts.contains(needle), "lacks {needle:?}:\n{ts}");
        }
    }

    #[test]
    fn defs_refs_unions_and_recursion() {
        let github = tool(
            "search_issues",
            "Search issues",
            json!({
                "type": "object",
                "properties": {
                    "q": {"type": "string"},
                    "sort": {"oneOf": [{"const": "created"}, {"const": "updated"}]},
                    "labels": {"type": "array", "items": {"$ref": "#/$defs/label"}},
                    "per-page": {"type": ["integer", "null"]},
                    "filter": {"anyOf": [{"$ref": "#/$defs/label"}, {"type": "object", "properties": {"milestone": {"type": "string"}}}]},
                    "extra": {"type": "object", "additionalProperties": {"type": "string"}},
                    "meta": {"type": "object", "properties": {"x": {"type": "number"}}, "additionalProperties": true},
                    "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}]},
                    "both": {"allOf": [{"$ref": "#/$defs/label"}, {"type": "object", "properties": {"id": {"type": "integer"}}}]}
                },
                "required": ["q"],
                "$defs": {"label": {"type": "object", "description": "A label", "properties": {"name": {"type": "string"}, "color": {"type": "string"}}, "required": ["name"]}}
            }),
            Some(json!({
                "type": "object",
                "properties": {"items": {"type": "array", "items": {"$ref": "#/definitions/node"}}},
                "definitions": {"node": {"type": "object", "properties": {"title": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/definitions/node"}}}}}
            })),
        );
        let tree = tool(
            "tree",
            "Recursive through the root",
            json!({"type": "object", "properties": {"value": {"type": "number"}, "next": {"$ref": "#"}}}),
            None,
        );
        let ts = declarations("git-hub", &[&github, &tree]);
        assert_parses(&ts);
        for needle in [
            "/** A label */\nexport type SearchIssuesInputLabel = {\n  name: string;\n  color?: string;\n};",
            "sort?: \"created\" | \"updated\";",
            "labels?: SearchIssuesInputLabel[];",
            "\"per-page\"?: number | null;",
            "filter?: SearchIssuesInputLabel | {\n    milestone?: string;\n  };",
            "extra?: {\n    [key: string]: string;\n  };",
            "meta?: {\n    x?: number;\n    [key: string]: unknown;\n  };",
            "pair?: [string, number];",
            "both?: SearchIssuesInputLabel & {",
            "export type SearchIssuesOutputNode = {\n  title?: string;\n  children?: SearchIssuesOutputNode[];",
            "items?: SearchIssuesOutputNode[];",
            "next?: TreeInput;",
            "export interface GitHubServer {",
            "// const server = await mcpFactory.load(\"git-hub\");",
        ] {
            assert!(ts.contains(needle), "lacks {needle:?}:\n{ts}");
        }
    }

    #[test]
    fn odd_schemas_stay_valid() {
        let odd = [
            json!({}),
            json!({"type": "object", "properties": {}}),
            json!({"type": "object", "properties": {"a": true, "b": false, "c": {"$ref": "#/$defs/missing"}}}),
            json!({"type": "object", "properties": {"e": {"enum": ["a\"b", 1, null, true]}, "n": {"type": "string", "nullable": true}}}),
            json!({"type": "object", "properties": {"deep": {"type": "array", "items": {"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "number"}]}}}}}),
            json!({"type": "object", "patternProperties": {"^x-": {"type": "string"}}}),
            json!({"type": "object", "description": "multi\nline\n\ndescription", "properties": {"k": {"type": "string", "description": "*/ closes"}}}),
        ];
        let tools: Vec<Tool> = odd.iter().enumerate().map(|(i, s)| tool(&format!("t{i}"), "", s.clone(), Some(s.clone()))).collect();
        let refs: Vec<&Tool> = tools.iter().collect();
        let ts = declarations("odd", &refs);
        assert_parses(&ts);
        assert!(ts.contains("e?: \"a\\\"b\" | 1 | null | true;"), "{ts}");
        assert!(ts.contains("deep?: (string | number)[][];"), "{ts}");
        assert!(ts.contains("b?: never;") && ts.contains("c?: unknown;"), "{ts}");
        assert!(ts.contains("[key: string]: string;"), "{ts}");
    }

    #[test]
    fn names() {
        assert_eq!(pascal("search_issues"), "SearchIssues");
        assert_eq!(pascal("get-user.v2"), "GetUserV2");
        assert_eq!(pascal("123"), "T123");
        assert!(is_method("search_issues") && is_method("$x"));
        for not in ["then", "callTool", "__proto__", "constructor", "get-user", "1a", ""] {
            assert!(!is_method(not), "{not}");
        }
        let mut names = Names::default();
        assert_eq!((names.unique("A"), names.unique("A"), names.unique("A")), ("A".into(), "A2".into(), "A3".into()));
    }

    /// The glue makes methods by the same rule: its list is this list.
    #[test]
    fn glue_reserves_the_same_names() {
        let glue = include_str!("../../js/conductor.js");
        let start = glue.find("const RESERVED_TOOL_METHODS = [").expect("the glue's list") + "const RESERVED_TOOL_METHODS = [".len();
        let end = start + glue[start..].find(']').unwrap();
        let names: Vec<&str> = glue[start..end].split(',').map(|s| s.trim().trim_matches('"')).filter(|s| !s.is_empty()).collect();
        assert_eq!(names, RESERVED_METHODS);
    }
}
