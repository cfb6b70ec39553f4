//! The upstream-server file: where it is, and its `{"mcpServers": {...}}` entries.
//!
//! One bad entry disables only itself (its error is shown by `list_mcp_servers` and logged);
//! a missing file means no upstream servers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// Where the file is looked for, in this order (docs/configuration.md and `--help` say the same):
///
/// 1. the file named by `MCP_CONDUCTOR_MCP_CONFIG` (or its alias `MCP_CONDUCTOR_PROXY_CONFIG`,
///    the original product's name), used whether or not it exists;
/// 2. else the first that exists of `<ROOT>/mcp.json` (where the original looked, under its
///    `MCP_CONDUCTOR_BASE_DIR`), `~/.mcp-conductor/mcp-config.json`, `~/.mcp-conductor/mcp.json`.
///    When ROOT is `~/.mcp-conductor` (the default) its `mcp.json` keeps its old place, last.
///
/// A default location inside the workspace is never used: sandboxed code may be allowed to write
/// there, and the file decides which commands the server starts. Name such a file explicitly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// Named by `MCP_CONDUCTOR_MCP_CONFIG` or `MCP_CONDUCTOR_PROXY_CONFIG` (the variable's name).
    Variable(&'static str, PathBuf),
    /// No variable: the default files, in lookup order (empty when none applies).
    Files(Vec<PathBuf>),
}

pub const CONFIG_VARS: [&str; 2] = ["MCP_CONDUCTOR_MCP_CONFIG", "MCP_CONDUCTOR_PROXY_CONFIG"];
/// Names looked up in `~/.mcp-conductor`, in order.
const HOME_NAMES: [&str; 2] = ["mcp-config.json", "mcp.json"];
/// The name looked up in ROOT.
const ROOT_NAME: &str = "mcp.json";

impl ConfigSource {
    /// `variable`: the variable that names the file, if one is set (config.rs resolves the
    /// alias); `home`: `$HOME`; `root` and `workspace`: the server's ROOT_DIR and WORKSPACE_DIR.
    /// Reads no file (it may resolve symlinks of the directories, to compare them).
    pub fn new(variable: Option<(&'static str, PathBuf)>, home: Option<&Path>, root: &Path, workspace: &Path) -> ConfigSource {
        match variable {
            Some((name, path)) => ConfigSource::Variable(name, path),
            None => ConfigSource::Files(default_files(home, root, workspace)),
        }
    }

    /// The file to read now (for `Files`, the first that exists, else the first candidate; the
    /// candidates are looked up again on every check, so creating one later is noticed).
    pub fn path(&self) -> Option<PathBuf> {
        match self {
            ConfigSource::Variable(_, path) => Some(path.clone()),
            ConfigSource::Files(files) => files.iter().find(|p| p.exists()).or(files.first()).cloned(),
        }
    }

    /// For messages: which files and variables were looked at.
    pub fn describe(&self) -> String {
        let vars = format!("neither {} nor {} is set", CONFIG_VARS[0], CONFIG_VARS[1]);
        match self {
            ConfigSource::Variable(var, path) => format!("{} (from {var})", path.display()),
            ConfigSource::Files(files) if files.is_empty() => {
                format!("no file: {vars}, and no default location applies (HOME is not set, or the files would be inside the workspace)")
            }
            ConfigSource::Files(files) => {
                let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                let list = match shown.split_last() {
                    Some((last, [])) => last.clone(),
                    Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                    None => String::new(),
                };
                format!("{list} ({vars})")
            }
        }
    }
}

/// The default files in lookup order (see [`ConfigSource`]).
fn default_files(home: Option<&Path>, root: &Path, workspace: &Path) -> Vec<PathBuf> {
    let home_dir = home.map(|h| h.join(".mcp-conductor"));
    let mut files = Vec::new();
    if !home_dir.as_deref().is_some_and(|dir| same_dir(dir, root)) {
        files.push(root.join(ROOT_NAME));
    }
    if let Some(dir) = &home_dir {
        files.extend(HOME_NAMES.map(|name| dir.join(name)));
    }
    let workspace_resolved = workspace.canonicalize().ok();
    files.retain(|file| {
        let inside = file.starts_with(workspace)
            || match (file.parent().and_then(|dir| dir.canonicalize().ok()), &workspace_resolved) {
                (Some(dir), Some(ws)) => dir.starts_with(ws),
                _ => false,
            };
        !inside
    });
    files
}

/// The same directory, by name or (when both exist) after resolving symlinks.
fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
        || match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
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
        let (home, root, ws) = (Path::new("/h"), Path::new("/srv/mc"), Path::new("/srv/mc/workspace"));
        let src = ConfigSource::new(Some(("MCP_CONDUCTOR_PROXY_CONFIG", "/b.json".into())), Some(home), root, ws);
        assert_eq!(src, ConfigSource::Variable("MCP_CONDUCTOR_PROXY_CONFIG", "/b.json".into()));
        assert_eq!(src.path(), Some(PathBuf::from("/b.json")));

        // ROOT's mcp.json first, then the two home files.
        let src = ConfigSource::new(None, Some(home), root, ws);
        let files = ["/srv/mc/mcp.json", "/h/.mcp-conductor/mcp-config.json", "/h/.mcp-conductor/mcp.json"];
        assert_eq!(src, ConfigSource::Files(files.iter().map(PathBuf::from).collect()));
        assert_eq!(src.path(), Some(PathBuf::from("/srv/mc/mcp.json")), "none exists: the first");
        assert!(src.describe().contains("/srv/mc/mcp.json, /h/.mcp-conductor/mcp-config.json or /h/.mcp-conductor/mcp.json"), "{}", src.describe());
        assert!(src.describe().contains("MCP_CONDUCTOR_MCP_CONFIG"));

        // ROOT = ~/.mcp-conductor (the default): the home order is unchanged.
        let src = ConfigSource::new(None, Some(home), Path::new("/h/.mcp-conductor"), Path::new("/h/.mcp-conductor/workspace"));
        assert_eq!(src.path(), Some(PathBuf::from("/h/.mcp-conductor/mcp-config.json")));
        let ConfigSource::Files(files) = &src else { panic!("{src:?}") };
        assert_eq!(files.len(), 2);

        // No HOME: only ROOT's file; a ROOT that is the workspace gives no file at all.
        assert_eq!(ConfigSource::new(None, None, root, ws).path(), Some(PathBuf::from("/srv/mc/mcp.json")));
        let none = ConfigSource::new(None, None, ws, ws);
        assert_eq!(none.path(), None);
        assert!(none.describe().starts_with("no file"), "{}", none.describe());
    }

    #[test]
    fn first_existing_file_wins_and_the_workspace_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let root = dir.path().join("root");
        let ws = dir.path().join("ws");
        for d in [home.join(".mcp-conductor"), root.clone(), ws.clone()] {
            std::fs::create_dir_all(d).unwrap();
        }
        let src = ConfigSource::new(None, Some(&home), &root, &ws);
        std::fs::write(home.join(".mcp-conductor/mcp.json"), "{}").unwrap();
        assert_eq!(src.path(), Some(home.join(".mcp-conductor/mcp.json")));
        std::fs::write(home.join(".mcp-conductor/mcp-config.json"), "{}").unwrap();
        assert_eq!(src.path(), Some(home.join(".mcp-conductor/mcp-config.json")));
        std::fs::write(root.join("mcp.json"), "{}").unwrap();
        assert_eq!(src.path(), Some(root.join("mcp.json")), "ROOT's file comes first");

        // ROOT = the workspace (a workspace dir not named `workspace`): its mcp.json is skipped,
        // also when the workspace is reached through a symlink.
        std::fs::write(ws.join("mcp.json"), "{}").unwrap();
        let src = ConfigSource::new(None, Some(&home), &ws, &ws);
        assert_eq!(src.path(), Some(home.join(".mcp-conductor/mcp-config.json")));
        std::os::unix::fs::symlink(&ws, dir.path().join("link")).unwrap();
        let src = ConfigSource::new(None, Some(&home), &dir.path().join("link"), &ws);
        assert_eq!(src.path(), Some(home.join(".mcp-conductor/mcp-config.json")));
    }
}
