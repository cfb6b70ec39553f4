//! The proxy manager: the configured upstream servers, each connected lazily on first use and
//! shared by every execution. The config file is re-checked (one `stat`) on every use; entries
//! that changed or disappeared are closed and reconnected on their next use.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rmcp::model::{CallToolResult, JsonObject, Tool};

use super::config::{ConfigSource, Entry, ProxyConfig, ServerSpec};
use super::upstream::Connection;

#[derive(Debug, Clone)]
pub struct ProxySettings {
    pub source: ConfigSource,
    pub connect_timeout: Duration,
    pub call_timeout: Duration,
}

pub struct ProxyManager {
    settings: ProxySettings,
    loaded: Mutex<Loaded>,
}

#[derive(Default)]
struct Loaded {
    /// What the file looked like when it was read (`None`: missing).
    stamp: Option<Option<FileStamp>>,
    path: Option<PathBuf>,
    file_error: Option<String>,
    upstreams: Vec<Arc<Upstream>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// One configured server and its connection (made on first use, remade after it dies).
pub struct Upstream {
    pub name: String,
    pub spec: Result<ServerSpec, String>,
    state: tokio::sync::Mutex<State>,
}

enum State {
    NotConnected,
    Connected(Arc<Connection>),
    Failed,
}

/// `connected | not connected | failed`, as `list_mcp_servers` reports it.
#[derive(Debug, Clone)]
pub struct ServerStatus {
    pub name: String,
    pub spec: Result<ServerSpec, String>,
    pub status: &'static str,
    pub error: Option<String>,
    pub tools: Option<Arc<Vec<Tool>>>,
    /// Numbers of resources and prompts, once connected (0 without the capability).
    pub resources: Option<usize>,
    pub prompts: Option<usize>,
}

/// The configuration as last read, for messages.
pub struct ConfigView {
    pub described: String,
    pub path: Option<PathBuf>,
    pub file_error: Option<String>,
}

impl ProxyManager {
    pub fn new(settings: ProxySettings) -> ProxyManager {
        ProxyManager { settings, loaded: Mutex::new(Loaded::default()) }
    }

    pub fn settings(&self) -> &ProxySettings {
        &self.settings
    }

    /// The current upstreams, re-reading the file first if it changed.
    pub fn upstreams(&self) -> Vec<Arc<Upstream>> {
        let path = self.settings.source.path();
        let stamp = path.as_deref().map(stamp_of).unwrap_or(None);
        let mut loaded = self.loaded.lock().unwrap();
        if loaded.stamp.as_ref() != Some(&stamp) || loaded.path != path {
            let config = path.as_deref().map(ProxyConfig::load).unwrap_or_default();
            let first_load = loaded.stamp.is_none();
            loaded.upstreams = merge(std::mem::take(&mut loaded.upstreams), config.entries);
            loaded.file_error = config.file_error;
            loaded.stamp = Some(stamp);
            loaded.path = path;
            log_config(&loaded, &self.settings.source, first_load);
        }
        loaded.upstreams.clone()
    }

    pub fn config_view(&self) -> ConfigView {
        self.upstreams();
        let loaded = self.loaded.lock().unwrap();
        ConfigView {
            described: self.settings.source.describe(),
            path: loaded.path.clone(),
            file_error: loaded.file_error.clone(),
        }
    }

    /// The named upstream, or an error that says what is configured and where it was looked for.
    pub fn find(&self, name: &str) -> Result<Arc<Upstream>, String> {
        let upstreams = self.upstreams();
        if let Some(found) = upstreams.iter().find(|u| u.name == name) {
            return Ok(found.clone());
        }
        let view = self.config_view();
        if upstreams.is_empty() {
            let mut message = format!(
                "no upstream MCP servers are configured (looked at {}); put {{\"mcpServers\": {{\"{name}\": {{\"command\": \"...\"}}}}}} \
                 in that file or point MCP_CONDUCTOR_MCP_CONFIG at one",
                view.described
            );
            if let Some(error) = view.file_error {
                message = format!("the upstream server config is unusable: {error} (file: {})", view.described);
            }
            return Err(message);
        }
        let names: Vec<&str> = upstreams.iter().map(|u| u.name.as_str()).collect();
        Err(format!("no upstream MCP server named '{name}'; configured: {}", names.join(", ")))
    }

    /// Connects (if needed) every upstream at once and reports each one.
    pub async fn statuses(&self) -> Vec<ServerStatus> {
        let upstreams = self.upstreams();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, upstream) in upstreams.iter().enumerate() {
            let upstream = upstream.clone();
            let settings = self.settings.clone();
            tasks.spawn(async move { (i, upstream.status(&settings).await) });
        }
        let mut out: Vec<Option<ServerStatus>> = vec![None; upstreams.len()];
        while let Some(joined) = tasks.join_next().await {
            if let Ok((i, status)) = joined {
                out[i] = Some(status);
            }
        }
        out.into_iter().flatten().collect()
    }

    pub async fn tools(&self, server: &str) -> Result<Arc<Vec<Tool>>, String> {
        let upstream = self.find(server)?;
        let connection = upstream.connection(&self.settings).await?;
        connection.tools(self.settings.call_timeout).await.map_err(|e| format!("{server}: {e}"))
    }

    /// A request on `server`'s live connection (connecting first), errors prefixed with its name.
    pub async fn on<T, F>(&self, server: &str, request: impl FnOnce(Arc<Connection>, Duration) -> F) -> Result<T, String>
    where
        F: std::future::Future<Output = Result<T, String>>,
    {
        let upstream = self.find(server)?;
        let connection = upstream.connection(&self.settings).await?;
        request(connection, self.settings.call_timeout).await.map_err(|e| format!("{server}: {e}"))
    }

    /// `trace`: handed on to the upstream server (see [`Connection::call`]).
    pub async fn call(
        &self,
        server: &str,
        tool: &str,
        args: JsonObject,
        trace: Option<(String, Option<String>)>,
    ) -> Result<CallToolResult, String> {
        let upstream = self.find(server)?;
        let connection = upstream.connection(&self.settings).await?;
        match connection.call(tool, args, self.settings.call_timeout, trace).await {
            Ok(result) => Ok(result),
            Err(error) => {
                // A wrong tool name is the likeliest mistake: say which tools exist.
                if let Ok(tools) = connection.tools(self.settings.call_timeout).await
                    && !tools.iter().any(|t| t.name == tool)
                {
                    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
                    return Err(format!("{server} has no tool '{tool}'; its tools: {}", names.join(", ")));
                }
                Err(format!("{server}.{tool}: {error}"))
            }
        }
    }
}

impl Upstream {
    fn new(entry: Entry) -> Upstream {
        Upstream { name: entry.name, spec: entry.spec, state: tokio::sync::Mutex::new(State::NotConnected) }
    }

    /// The live connection; connects (once, for all concurrent callers) when there is none or
    /// the previous one died.
    pub async fn connection(&self, settings: &ProxySettings) -> Result<Arc<Connection>, String> {
        let spec = self.spec.as_ref().map_err(|e| format!("upstream '{}' is misconfigured: {e}", self.name))?;
        let mut state = self.state.lock().await;
        if let State::Connected(connection) = &*state {
            if connection.is_alive() {
                return Ok(connection.clone());
            }
            tracing::warn!(server = %self.name, "upstream connection lost; reconnecting");
        }
        match Connection::connect(&self.name, spec, settings.connect_timeout).await {
            Ok(connection) => {
                tracing::info!(server = %self.name, "connected to upstream");
                let connection = Arc::new(connection);
                *state = State::Connected(connection.clone());
                Ok(connection)
            }
            Err(error) => {
                let error = format!("cannot connect to upstream '{}': {error}", self.name);
                tracing::warn!("{error}");
                *state = State::Failed;
                Err(error)
            }
        }
    }

    async fn status(&self, settings: &ProxySettings) -> ServerStatus {
        let mut status = ServerStatus {
            name: self.name.clone(),
            spec: self.spec.clone(),
            status: "not connected",
            error: None,
            tools: None,
            resources: None,
            prompts: None,
        };
        if let Err(error) = &self.spec {
            status.status = "failed";
            status.error = Some(error.clone());
            return status;
        }
        let connection = self.connection(settings).await;
        let listed = match &connection {
            Ok(connection) => connection.tools(settings.call_timeout).await,
            Err(error) => Err(error.clone()),
        };
        match listed {
            Ok(tools) => {
                status.status = "connected";
                status.tools = Some(tools);
                if let Ok(connection) = &connection {
                    let count = |v: Result<serde_json::Value, String>| v.ok().and_then(|v| v.as_array().map(Vec::len));
                    status.resources = count(connection.resources(settings.call_timeout).await);
                    status.prompts = count(connection.prompts(settings.call_timeout).await);
                }
            }
            Err(error) => {
                status.status = if matches!(*self.state.lock().await, State::Failed) { "failed" } else { "not connected" };
                status.error = Some(error);
            }
        }
        status
    }
}

/// Keeps the upstreams whose entry did not change (and their connections); the rest are new.
/// Dropped upstreams close their connection (a child process is killed).
fn merge(old: Vec<Arc<Upstream>>, entries: Vec<Entry>) -> Vec<Arc<Upstream>> {
    entries
        .into_iter()
        .map(|entry| {
            old.iter()
                .find(|u| u.name == entry.name && u.spec == entry.spec)
                .cloned()
                .unwrap_or_else(|| Arc::new(Upstream::new(entry)))
        })
        .collect()
}

fn stamp_of(path: &std::path::Path) -> Option<FileStamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp { modified: meta.modified().ok(), len: meta.len(), inode: meta.ino() })
}

fn log_config(loaded: &Loaded, source: &ConfigSource, first_load: bool) {
    let verb = if first_load { "read" } else { "re-read (changed)" };
    match (&loaded.path, &loaded.stamp) {
        (Some(path), Some(Some(_))) => {
            tracing::info!(upstreams = loaded.upstreams.len(), "upstream server config {verb}: {}", path.display())
        }
        _ if first_load => tracing::info!("no upstream server config ({})", source.describe()),
        _ => tracing::info!("upstream server config removed: no upstream servers"),
    }
    if let Some(error) = &loaded.file_error {
        tracing::warn!("upstream server config unusable: {error}");
    }
    for upstream in &loaded.upstreams {
        if let Err(error) = &upstream.spec {
            tracing::warn!(server = %upstream.name, "upstream disabled: {error}");
        }
    }
}
