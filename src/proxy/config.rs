//! The upstream-server file: where it is, and its `{"mcpServers": {...}}` entries.
//!
//! One bad entry disables only itself (its error is shown by `list_mcp_servers` and logged);
//! a missing file means no upstream servers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

/// Where the file is looked for, in order: the two variables, then two names under the home dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// Named by `MCP_CONDUCTOR_MCP_CONFIG` or `MCP_CONDUCTOR_PROXY_CONFIG` (the variable's name).
    Variable(&'static str, PathBuf),
    /// `~/.mcp-conductor/mcp-config.json`, else `~/.mcp-conductor/mcp.json`.
    Home(PathBuf),
    /// Neither a variable nor HOME is set.
    Nowhere,
}

pub const CONFIG_VARS: [&str; 2] = ["MCP_CONDUCTOR_MCP_CONFIG", "MCP_CONDUCTOR_PROXY_CONFIG"];
const HOME_NAMES: [&str; 2] = ["mcp-config.json", "mcp.json"];

impl ConfigSource {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> ConfigSource {
        for var in CONFIG_VARS {
            if let Some(path) = get(var) {
                return ConfigSource::Variable(var, PathBuf::from(path));
            }
        }
        match get("HOME") {
            Some(home) => ConfigSource::Home(Path::new(&home).join(".mcp-conductor")),
            None => ConfigSource::Nowhere,
        }
    }

    /// The file to read now (for `Home`, the first name that exists; the home files are looked
    /// up again on every check, so creating one later is noticed).
    pub fn path(&self) -> Option<PathBuf> {
        match self {
            ConfigSource::Variable(_, path) => Some(path.clone()),
            ConfigSource::Home(dir) => {
                let candidates = HOME_NAMES.map(|name| dir.join(name));
                let found = candidates.iter().find(|p| p.exists()).cloned();
                Some(found.unwrap_or_else(|| candidates[0].clone()))
            }
            ConfigSource::Nowhere => None,
        }
    }

    /// For messages: which file and variable were looked at.
    pub fn describe(&self) -> String {
        let vars = CONFIG_VARS.join(" or ");
        match self {
            ConfigSource::Variable(var, path) => format!("{} (from {var})", path.display()),
            ConfigSource::Home(dir) => format!(
                "{} or {} ({vars} not set)",
                dir.join(HOME_NAMES[0]).display(),
                dir.join(HOME_NAMES[1]).display()
            ),
            ConfigSource::Nowhere => format!("no file: neither {vars} nor HOME is set"),
        }
    }
}

/// How to reach one upstream server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSpec {
    Stdio { command: String, args: Vec<String>, env: BTreeMap<String, String>, cwd: Option<PathBuf> },
    /// Streamable HTTP.
    Http { url: String, headers: BTreeMap<String, String> },
    /// Legacy HTTP+SSE (rmcp 3 has no client for it: reported as unsupported on connect).
    Sse { url: String, headers: BTreeMap<String, String> },
}

/// One `mcpServers` entry: usable, or the reason it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub spec: Result<ServerSpec, String>,
}

/// The parsed file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Entries in file order; `disabled` ones are left out.
    pub entries: Vec<Entry>,
    /// The file as a whole could not be used (unreadable, not JSON, no `mcpServers` object).
    pub file_error: Option<String>,
}

impl ProxyConfig {
    /// Reads `path`; a missing file is an empty configuration.
    pub fn load(path: &Path) -> ProxyConfig {
        match std::fs::read_to_string(path) {
            Ok(text) => ProxyConfig::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ProxyConfig::default(),
            Err(e) => ProxyConfig::broken(format!("cannot read {}: {e}", path.display())),
        }
    }

    fn broken(error: String) -> ProxyConfig {
        ProxyConfig { entries: Vec::new(), file_error: Some(error) }
    }

    pub fn parse(text: &str) -> ProxyConfig {
        let root: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return ProxyConfig::broken(format!("not valid JSON: {e}")),
        };
        let servers = match root.get("mcpServers") {
            Some(Value::Object(servers)) => servers,
            Some(_) => return ProxyConfig::broken("`mcpServers` must be an object".into()),
            None => return ProxyConfig::broken("no `mcpServers` object at the top level".into()),
        };
        let entries = servers
            .iter()
            .filter(|(_, raw)| raw.get("disabled") != Some(&Value::Bool(true)))
            .map(|(name, raw)| Entry { name: name.clone(), spec: validate_name(name).and_then(|()| parse_entry(raw)) })
            .collect();
        ProxyConfig { entries, file_error: None }
    }
}

pub fn validate_name(name: &str) -> Result<(), String> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        Ok(())
    } else {
        Err(format!("invalid server name '{name}': use only letters, digits, '_' and '-'"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEntry {
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<PathBuf>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// `transport` (ours) or `type` (as other clients write it).
    transport: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    disabled: bool,
    // Fields other clients write that carry no meaning here.
    #[allow(dead_code)]
    description: Option<Value>,
    #[allow(dead_code)]
    timeout: Option<Value>,
    #[allow(dead_code)]
    auto_approve: Option<Value>,
    #[allow(dead_code)]
    always_allow: Option<Value>,
}

fn parse_entry(raw: &Value) -> Result<ServerSpec, String> {
    if !raw.is_object() {
        return Err("entry must be an object".into());
    }
    let raw: RawEntry = serde_json::from_value(raw.clone()).map_err(|e| format!("invalid entry: {e}"))?;
    let transport = raw.transport.or(raw.kind).map(|t| t.to_ascii_lowercase());
    match (raw.command, raw.url) {
        (Some(_), Some(_)) => Err("give either `command` (stdio) or `url` (remote), not both".into()),
        (None, None) => Err("missing `command` (stdio server) or `url` (remote server)".into()),
        (Some(command), None) => {
            if !matches!(transport.as_deref(), None | Some("stdio")) {
                return Err(format!("transport '{}' needs a `url`, not a `command`", transport.unwrap_or_default()));
            }
            if command.trim().is_empty() {
                return Err("`command` is empty".into());
            }
            Ok(ServerSpec::Stdio { command, args: raw.args, env: raw.env, cwd: raw.cwd })
        }
        (None, Some(url)) => {
            match url.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase()) {
                Some(s) if s == "http" || s == "https" => {}
                _ => return Err(format!("`url` must be an http:// or https:// URL, got '{url}'")),
            }
            let headers = raw.headers;
            match transport.as_deref() {
                None | Some("http") | Some("streamable-http") | Some("streamablehttp") | Some("streamable_http") => {
                    Ok(ServerSpec::Http { url, headers })
                }
                Some("sse") => Ok(ServerSpec::Sse { url, headers }),
                Some(other) => Err(format!("unknown transport '{other}': use \"http\" (streamable HTTP) or \"sse\"")),
            }
        }
    }
}

/// `env` and `headers` values may hold secrets: only their names are ever shown.
pub fn describe_spec(spec: &ServerSpec) -> Map<String, Value> {
    let mut out = Map::new();
    match spec {
        ServerSpec::Stdio { command, args, .. } => {
            out.insert("transport".into(), "stdio".into());
            out.insert("command".into(), command.clone().into());
            out.insert("args".into(), args.clone().into());
        }
        ServerSpec::Http { url, .. } => {
            out.insert("transport".into(), "http".into());
            out.insert("url".into(), url.clone().into());
        }
        ServerSpec::Sse { url, .. } => {
            out.insert("transport".into(), "sse".into());
            out.insert("url".into(), url.clone().into());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdio_http_and_sse_entries() {
        let c = ProxyConfig::parse(
            r#"{"mcpServers": {
                "fs": {"command": "node", "args": ["s.js"], "env": {"K": "v"}, "cwd": "/tmp"},
                "web": {"url": "https://x.example/mcp", "headers": {"Authorization": "Bearer t"}},
                "old": {"url": "http://127.0.0.1:1/sse", "transport": "sse"},
                "typed": {"type": "http", "url": "http://h/mcp"},
                "off": {"command": "x", "disabled": true}
            }}"#,
        );
        assert_eq!(c.file_error, None);
        let names: Vec<_> = c.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["fs", "web", "old", "typed"]);
        assert_eq!(
            c.entries[0].spec,
            Ok(ServerSpec::Stdio {
                command: "node".into(),
                args: vec!["s.js".into()],
                env: [("K".to_string(), "v".to_string())].into(),
                cwd: Some("/tmp".into()),
            })
        );
        assert!(matches!(&c.entries[1].spec, Ok(ServerSpec::Http { headers, .. }) if headers.len() == 1));
        assert!(matches!(c.entries[2].spec, Ok(ServerSpec::Sse { .. })));
        assert!(matches!(c.entries[3].spec, Ok(ServerSpec::Http { .. })));
    }

    #[test]
    fn a_bad_entry_disables_only_itself() {
        let c = ProxyConfig::parse(
            r#"{"mcpServers": {
                "good": {"command": "x"},
                "bad name": {"command": "x"},
                "both": {"command": "x", "url": "http://h"},
                "neither": {"args": []},
                "typo": {"comand": "x"},
                "ftp": {"url": "ftp://h"},
                "odd": {"url": "http://h", "transport": "carrier-pigeon"},
                "num": 5
            }}"#,
        );
        let errors: Vec<_> = c.entries.iter().map(|e| e.spec.as_ref().err().cloned().unwrap_or_default()).collect();
        assert_eq!(errors[0], "");
        assert!(errors[1].contains("invalid server name 'bad name'"), "{}", errors[1]);
        assert!(errors[2].contains("not both"), "{}", errors[2]);
        assert!(errors[3].contains("missing `command`"), "{}", errors[3]);
        assert!(errors[4].contains("unknown field `comand`"), "{}", errors[4]);
        assert!(errors[5].contains("http:// or https://"), "{}", errors[5]);
        assert!(errors[6].contains("carrier-pigeon"), "{}", errors[6]);
        assert!(errors[7].contains("must be an object"), "{}", errors[7]);
    }

    #[test]
    fn whole_file_errors() {
        assert!(ProxyConfig::parse("{").file_error.unwrap().contains("not valid JSON"));
        assert!(ProxyConfig::parse("{}").file_error.unwrap().contains("mcpServers"));
        assert!(ProxyConfig::parse(r#"{"mcpServers": []}"#).file_error.unwrap().contains("object"));
        assert_eq!(ProxyConfig::load(Path::new("/nonexistent/mcp.json")), ProxyConfig::default());
    }

    #[test]
    fn source_order() {
        let src = ConfigSource::from_lookup(|k| match k {
            "MCP_CONDUCTOR_PROXY_CONFIG" => Some("/b.json".into()),
            "HOME" => Some("/h".into()),
            _ => None,
        });
        assert_eq!(src, ConfigSource::Variable("MCP_CONDUCTOR_PROXY_CONFIG", "/b.json".into()));
        let src = ConfigSource::from_lookup(|k| (k == "HOME").then(|| "/h".to_string()));
        assert_eq!(src.path(), Some(PathBuf::from("/h/.mcp-conductor/mcp-config.json")));
        assert!(src.describe().contains("MCP_CONDUCTOR_MCP_CONFIG"));
        assert_eq!(ConfigSource::from_lookup(|_| None).path(), None);
    }
}
