//! Server configuration from the environment (the original product's names work too).
//!
//! [`ENV_VARS`] is the one list of variables: `--help` is generated from it ([`env_help`]), a
//! variable's aliases are read through it, and a unit test checks the table of
//! docs/configuration.md against it (same variables, aliases and default text, in the same order).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::proxy::{ConfigSource, ProxySettings};
use crate::run_args::{RunArgs, RunArgsError};

/// One environment variable.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    /// Other names of the same setting (the original product's). Setting two names of one
    /// variable to different values is a startup error naming both; the same value is fine.
    pub aliases: &'static [&'static str],
    /// The default, in Markdown, exactly as docs/configuration.md's table writes it.
    pub default: &'static str,
    /// What it does, one paragraph (backticks allowed); `--help` wraps it.
    pub help: &'static str,
}

impl EnvVar {
    /// Every name of the variable, the canonical one first.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + use<> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

/// Every environment variable the server reads, in docs/configuration.md's order.
pub const ENV_VARS: &[EnvVar] = &[
    EnvVar {
        name: "MCP_CONDUCTOR_WORKSPACE",
        aliases: &[],
        default: "`<ROOT>/workspace` when `MCP_CONDUCTOR_ROOT` is set, else `~/.mcp-conductor/workspace`",
        help: "Working directory of every execution: created if missing, and the process's cwd, so \
            relative paths resolve there. Must be absolute.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_ROOT",
        aliases: &["MCP_CONDUCTOR_BASE_DIR"],
        default: "the workspace's parent if the workspace dir is named `workspace`, else the workspace",
        help: "The server's own directory: the ROOT_DIR global; playbooks are in <ROOT>/playbooks (never \
            writable by code; it must not be or contain the workspace), large results in <ROOT>/results, and \
            <ROOT>/mcp.json is one place the upstream config is looked for. Must be absolute. \
            MCP_CONDUCTOR_BASE_DIR is the original product's name for it.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_RUN_ARGS",
        aliases: &[],
        default: "empty: **no permissions**",
        help: "Sandbox permissions: Deno flags separated by , or ; (e.g. \
            allow-read=/data,allow-net=api.example.com). Never prompts.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_DEFAULT_TIMEOUT",
        aliases: &[],
        default: "`30000` (or the maximum, if lower)",
        help: "Execution timeout in ms for calls that give none.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_MAX_TIMEOUT",
        aliases: &[],
        default: "`300000`",
        help: "Largest timeout (ms) a call may ask for; larger requests are rejected.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_MAX_MEMORY_MB",
        aliases: &[],
        default: "`256`",
        help: "Memory cap of one execution (16 to 65536); reaching it ends that execution with \
            errorType \"memory\".",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_MAX_OUTPUT_BYTES",
        aliases: &[],
        default: "`1048576`",
        help: "Captured stdout+stderr kept per execution; the rest is dropped and the result says \
            truncated.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_MAX_RETURN_BYTES",
        aliases: &["MCP_CONDUCTOR_MAX_RETURN_SIZE"],
        default: "`1048576`",
        help: "Largest return value (as JSON) sent inline; a larger one is written to a file in \
            MCP_CONDUCTOR_RESULTS_DIR and the result names it. MCP_CONDUCTOR_MAX_RETURN_SIZE is the original \
            product's name for it.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_RESULTS_DIR",
        aliases: &[],
        default: "`<ROOT>/results`, or `~/.mcp-conductor/results` when that would be inside the workspace",
        help: "Where return values above MCP_CONDUCTOR_MAX_RETURN_BYTES are written, one subdirectory per \
            client (`stdio`, or one per HTTP session). Server-owned: code can never read or write it, whatever \
            MCP_CONDUCTOR_RUN_ARGS grants. Must be absolute and outside the workspace.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_RESULTS_TTL",
        aliases: &[],
        default: "`3600000` (1 hour)",
        help: "Time (ms) a large result is kept; then it is deleted.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_RESULTS_MAX_BYTES",
        aliases: &[],
        default: "`1073741824`",
        help: "Total size of the large results kept (all clients); to make room for a new one the oldest are \
            deleted first, and a value larger than this fails with errorType \"limit\".",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_TASK_TTL",
        aliases: &[],
        default: "the larger of `3600000` (1 hour) and MCP_CONDUCTOR_MAX_TIMEOUT + 60000",
        help: "How long (ms) the result of a task is kept after it ends, for a client that runs run_deno_code as \
            an MCP Task (the io.modelcontextprotocol/tasks extension); then tasks/get answers that it is unknown. \
            Must be above MCP_CONDUCTOR_MAX_TIMEOUT.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_TASK_MAX",
        aliases: &[],
        default: "`64`",
        help: "Tasks kept at once (running, or finished within MCP_CONDUCTOR_TASK_TTL), 1-10000: their results stay \
            in memory. While that many are kept, further calls are answered directly, without a task.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_STATE_TTL",
        aliases: &[],
        default: "`3600000` (1 hour)",
        help: "Time (ms) a state handle (run_deno_code's `state`) is kept after its last use; then it and its \
            values are gone, and a call that passes it gets an error saying it expired.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_STATE_MAX_BYTES",
        aliases: &[],
        default: "`1048576`",
        help: "Size of the values one state handle may hold (keys and JSON text); a `state.set` beyond it throws.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_STATE_MAX_HANDLES",
        aliases: &[],
        default: "`1000`",
        help: "State handles alive at once (all clients); asking for a new one beyond it fails until one expires.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_STATE_MAX_HANDLES_PER_CLIENT",
        aliases: &[],
        default: "`100` (at most MCP_CONDUCTOR_STATE_MAX_HANDLES)",
        help: "State handles one client (the stdio client, an HTTP session; stateless HTTP is one client) may hold \
            at once, so that one cannot take them all.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_MAX_CONTENT_BYTES",
        aliases: &[],
        default: "`16777216`",
        help: "Total size of the images, audio and files one execution adds to its result (mcp.image, \
            mcp.audio, mcp.file); beyond it the call fails with errorType \"limit\".",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_MAX_CONCURRENCY",
        aliases: &[],
        default: "2 × CPUs",
        help: "Executions running at once; more calls wait (the wait counts against their timeout).",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_MAX_ABANDONED",
        aliases: &[],
        default: "`16`",
        help: "Execution threads stuck in a blocking call that may be abandoned at once (1 to 1024); \
            when reached, new executions fail with an error naming this variable.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_MAX_ABANDONED_PER_CLIENT",
        aliases: &[],
        default: "`4` (at most `MCP_CONDUCTOR_MAX_ABANDONED`)",
        help: "The same, for one client (an HTTP session, or the stdio client): a client that reached it is \
            refused while others keep running (1 to `MCP_CONDUCTOR_MAX_ABANDONED`).",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_POOL_SIZE",
        aliases: &[],
        default: "number of CPUs",
        help: "Workers kept started ahead of calls (0 to 64; 0 starts every worker on demand).",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_MCP_CONFIG",
        aliases: &["MCP_CONDUCTOR_PROXY_CONFIG"],
        default: "the first that exists of `<ROOT>/mcp.json`, `~/.mcp-conductor/mcp-config.json`, \
            `~/.mcp-conductor/mcp.json`",
        help: "Upstream MCP servers for mcpFactory: a JSON file in the MCP clients' format \
            {\"mcpServers\": {...}}, re-read when it changes. When ROOT is ~/.mcp-conductor (the \
            default), mcp-config.json is looked at before mcp.json there. A default location inside \
            the workspace is never used. MCP_CONDUCTOR_PROXY_CONFIG is the original product's name.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_MCP_CONNECT_TIMEOUT",
        aliases: &[],
        default: "`15000`",
        help: "Time (ms) an upstream has to start and answer initialize.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_MCP_CALL_TIMEOUT",
        aliases: &[],
        default: "`60000`",
        help: "Time (ms) for one upstream request (tools/list, tools/call); the execution's own \
            timeout still applies.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_PACKAGES_DIR",
        aliases: &[],
        default: "`<ROOT>/packages`",
        help: "npm packages code may import: a directory with a package.json (its dependencies are \
            the allow-list) and node_modules/, filled by `mcp-conductor packages add <name>` (or npm). \
            Re-read when package.json changes. Code can never write it, nor read it outside node_modules.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_PACKAGES",
        aliases: &["MCP_CONDUCTOR_ALLOWED_PACKAGES"],
        default: "none",
        help: "Packages to install at startup when missing, comma-separated (`zod@^3.23,lodash@4.17.21`; \
            `npm:`/`jsr:` prefixes allowed), before the server answers; needs npm. \
            MCP_CONDUCTOR_ALLOWED_PACKAGES is the original product's name.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_PACKAGES_TIMEOUT",
        aliases: &[],
        default: "`300000`",
        help: "Time (ms) the startup install (and `packages add`) may take before it fails.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_IMPORT_MAP",
        aliases: &[],
        default: "`<packages>/deno.json`, else `<packages>/import_map.json`, if present",
        help: "An import map (Deno's `imports` and `scopes`) for code's imports, e.g. \
            {\"imports\": {\"zod\": \"npm:zod@^3\"}}. Never read from the workspace; re-read when it changes.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_TLS_CA_STORE",
        aliases: &[],
        default: "`mozilla`",
        help: "Certificate authorities code's TLS connections (fetch, WebSocket, Deno.connectTls) \
            trust: `mozilla` (built in), `system`, or both comma-separated.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_TLS_CA_FILE",
        aliases: &[],
        default: "none",
        help: "A PEM file of more certificate authorities to trust, e.g. a TLS-intercepting proxy's.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_EGRESS",
        aliases: &[],
        default: "none (code reaches what MCP_CONDUCTOR_RUN_ARGS allows, with no credentials added)",
        help: "An egress policy file (YAML or JSON; docs/egress.md): the hosts code may reach (it narrows \
            allow-net, never widens it), the methods and path prefixes fetch() may use, and headers the server \
            adds to those requests itself, e.g. `Authorization: Bearer ${GITHUB_TOKEN}`: the variables it names \
            are taken out of the environment at startup, so code never sees them. Re-read when it changes; a \
            missing or invalid file is a startup error. Must be absolute.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_HTTP_HOST",
        aliases: &[],
        default: "`127.0.0.1`",
        help: "Address `mcp-conductor http` listens on (`--host` overrides). A non-loopback address \
            needs a token (MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE) unless MCP_CONDUCTOR_HTTP_ALLOW_UNAUTHENTICATED \
            is true.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_HTTP_PORT",
        aliases: &[],
        default: "`3001`",
        help: "Port of `mcp-conductor http` (`--port` overrides; 0 picks a free one, logged at startup).",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE",
        aliases: &[],
        default: "none",
        help: "File holding the bearer token every /mcp and /metrics request must send \
            (`Authorization: Bearer <token>`); the file is unreachable from code.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_HTTP_AUTH_TOKEN",
        aliases: &[],
        default: "none",
        help: "The bearer token itself (prefer the file). At startup the server re-executes itself \
            without it (the token passes through a pipe), so no code or subprocess can read it.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_HTTP_ALLOW_UNAUTHENTICATED",
        aliases: &[],
        default: "`false`",
        help: "`true` lets `mcp-conductor http` listen on a non-loopback address without a token.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_HTTP_ALLOWED_HOSTS",
        aliases: &[],
        default: "`localhost,127.0.0.1,::1`",
        help: "Host header values /mcp accepts (against DNS rebinding), comma-separated, each a host \
            or host:port; `*` accepts any.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_HTTP_ALLOWED_ORIGINS",
        aliases: &[],
        default: "on a loopback host, the loopback origins (`http(s)://localhost:*`, `127.0.0.1:*`, `[::1]:*`); \
            otherwise none",
        help: "Browser origins /mcp accepts, comma-separated, each scheme://host[:port|:*]; any other Origin \
            gets 403.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_HTTP_STATELESS",
        aliases: &[],
        default: "`false`",
        help: "`true` (or `--stateless`): no sessions for clients up to protocol 2025-11-25 either; \
            each POST stands alone (replicas behind a load balancer).",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_HTTP_MAX_SESSIONS",
        aliases: &[],
        default: "`100`",
        help: "Sessions open at once (1 to 100000); an initialize beyond it gets 503 with Retry-After.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_HTTP_SESSION_IDLE_TIMEOUT",
        aliases: &[],
        default: "the larger of 30 minutes and `MCP_CONDUCTOR_MAX_TIMEOUT` + 60 s",
        help: "A session with no request for this long (ms) is closed. Must be above \
            MCP_CONDUCTOR_MAX_TIMEOUT + 60000: a running tool call does not reset the timer.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_HTTP_MAX_BODY_BYTES",
        aliases: &[],
        default: "`16777216`",
        help: "Largest request body /mcp accepts (larger: 413).",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_HTTP_SHUTDOWN_DELAY",
        aliases: &[],
        default: "`0`",
        help: "On SIGTERM/SIGINT, ms to keep serving everything with /ready at 503 (load balancers \
            notice) before new sessions and stand-alone requests are refused.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_HTTP_SHUTDOWN_TIMEOUT",
        aliases: &[],
        default: "`30000`",
        help: "Then ms existing sessions keep being served for their running executions to finish; \
            those still running end with a result saying the server shut down.",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_LOG",
        aliases: &[],
        default: "`info`",
        help: "Log filter for stderr (tracing EnvFilter syntax).",
    },
    EnvVar {
        name: "MCP_CONDUCTOR_LOG_FORMAT",
        aliases: &[],
        default: "`text`",
        help: "`text` or `json` (one JSON object per line, for log collectors).",
    },
    EnvVar {
        name: "OTEL_EXPORTER_OTLP_ENDPOINT",
        aliases: &[],
        default: "unset: no traces exported",
        help: "OpenTelemetry collector base URL (OTLP over HTTP, e.g. `http://collector:4318`): traces \
            go to `<url>/v1/traces`. Setting it (or the next) turns tracing on.",
    },
    EnvVar {
        name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        aliases: &[],
        default: "unset",
        help: "The full traces URL, used as given (instead of the above).",
    },
    EnvVar {
        name: "OTEL_EXPORTER_OTLP_PROTOCOL",
        aliases: &[],
        default: "`http/protobuf`",
        help: "`http/protobuf` or `http/json` (`grpc` is refused at startup); \
            `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` overrides it.",
    },
    EnvVar {
        name: "OTEL_EXPORTER_OTLP_HEADERS",
        aliases: &[],
        default: "unset",
        help: "Headers for the collector, `key=value,...` (credentials; `OTEL_EXPORTER_OTLP_TRACES_HEADERS` \
            overrides it): taken out of the environment at startup like the token, so code never sees them.",
    },
    EnvVar {
        name: "OTEL_SERVICE_NAME",
        aliases: &[],
        default: "`mcp-conductor`",
        help: "The service name on exported spans (`OTEL_RESOURCE_ATTRIBUTES` adds attributes).",
    },
    EnvVar {
        name: "OTEL_SDK_DISABLED",
        aliases: &[],
        default: "`false`",
        help: "`true` turns tracing off whatever the endpoint (so does `OTEL_TRACES_EXPORTER=none`).",
    },
];

/// The `--help` text listing every variable (clap's `after_help`), generated from [`ENV_VARS`].
pub fn env_help() -> String {
    let mut out = String::from(
        "Environment (unset or empty means the default; a name in parentheses is an alias, and\n\
         two names of one variable set to different values are a startup error):\n",
    );
    for var in ENV_VARS {
        out.push_str("  ");
        out.push_str(var.name);
        if !var.aliases.is_empty() {
            out.push_str(&format!(" (alias: {})", var.aliases.join(", ")));
        }
        out.push('\n');
        for text in [plain(var.help), format!("Default: {}", plain(var.default))] {
            for line in wrap(&text, HELP_WIDTH) {
                out.push_str("      ");
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out.truncate(out.trim_end().len());
    out
}

const HELP_WIDTH: usize = 88;

/// Markdown to plain text: no backticks, no bold.
fn plain(markdown: &str) -> String {
    markdown.replace("**", "").replace('`', "")
}

/// Greedy word wrap at `width` characters (a longer word gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
pub const MAX_TIMEOUT_MS: u64 = 300_000;

#[derive(Debug, Clone)]
pub struct Config {
    pub workspace: PathBuf,
    pub root: PathBuf,
    pub playbooks_dir: PathBuf,
    pub run_args: RunArgs,
    pub default_timeout: Duration,
    pub max_timeout: Duration,
    pub pool_size: usize,
    pub limits: Limits,
    pub proxy: ProxySettings,
    pub http: HttpSettings,
    pub log_format: LogFormat,
    pub tls_ca_stores: Vec<CaStore>,
    pub tls_ca_file: Option<PathBuf>,
    /// `MCP_CONDUCTOR_EGRESS`: the egress policy file.
    pub egress: Option<PathBuf>,
    pub packages: PackageSettings,
    pub results: ResultsSettings,
    pub state: crate::state::StateSettings,
    /// `MCP_CONDUCTOR_TASK_TTL`: how long a task is kept (`server/tasks.rs`).
    pub task_ttl: Duration,
    /// `MCP_CONDUCTOR_TASK_MAX`: tasks kept at once.
    pub task_max: usize,
    /// `MCP_CONDUCTOR_ROOT` (or its alias) was set: the root is not derived from the workspace.
    root_from_env: bool,
    /// `$HOME`, for the default upstream-config files.
    home: Option<PathBuf>,
}

/// Return values too large to send inline (`MCP_CONDUCTOR_RESULTS_*`, `sandbox/results.rs`).
#[derive(Debug, Clone)]
pub struct ResultsSettings {
    pub dir: PathBuf,
    /// `MCP_CONDUCTOR_RESULTS_DIR` was set (else the directory follows the root).
    dir_from_env: bool,
    pub ttl: Duration,
    pub max_bytes: u64,
}

impl ResultsSettings {
    fn from_env<G: Fn(&str) -> Option<String>>(
        env: &Env<G>,
        root: &Path,
        workspace: &Path,
        home: Option<&Path>,
    ) -> Result<ResultsSettings, ConfigError> {
        let dir_var = env.var("MCP_CONDUCTOR_RESULTS_DIR").map(|(name, d)| (name, PathBuf::from(d)));
        if let Some((name, dir)) = &dir_var
            && !dir.is_absolute()
        {
            return Err(ConfigError(format!("{name} must be an absolute path, got '{}'", dir.display())));
        }
        Ok(ResultsSettings {
            dir_from_env: dir_var.is_some(),
            dir: dir_var.map(|(_, d)| d).unwrap_or_else(|| default_results_dir(root, workspace, home)),
            ttl: timeout_var(env, "MCP_CONDUCTOR_RESULTS_TTL", 3_600_000)?,
            max_bytes: count_var(env, "MCP_CONDUCTOR_RESULTS_MAX_BYTES", 1 << 30, 1..=1 << 50)? as u64,
        })
    }
}

/// `<ROOT>/results`, unless that is inside the workspace (ROOT is the workspace when the
/// workspace's directory is not named `workspace`): then `~/.mcp-conductor/results`. Results
/// stay out of the workspace, which code may be allowed to read or list.
fn default_results_dir(root: &Path, workspace: &Path, home: Option<&Path>) -> PathBuf {
    let in_root = root.join("results");
    match home {
        Some(home) if in_root.starts_with(workspace) => home.join(".mcp-conductor").join("results"),
        // Inside the workspace without a HOME: `prepare_workspace` refuses it, naming the variable.
        _ => in_root,
    }
}

/// `path` with symlinks resolved as far as it exists, and `.`/`..` removed from the rest, for
/// comparing directories that may not exist yet.
fn real_path(path: &Path) -> PathBuf {
    use std::path::Component;
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => real_path(parent).join(name),
        // Ends in `..` or `.`: resolve lexically on top of the real parent.
        (Some(parent), None) => {
            let mut base = real_path(parent);
            if path.components().next_back() == Some(Component::ParentDir) {
                base.pop();
            }
            base
        }
        _ => path.to_path_buf(),
    }
}

/// npm packages: where they are, what to install at startup, the import map.
#[derive(Debug, Clone)]
pub struct PackageSettings {
    pub dir: PathBuf,
    /// `MCP_CONDUCTOR_PACKAGES_DIR` was set (else the directory follows the root).
    dir_from_env: bool,
    pub install: Vec<crate::packages::PackageRef>,
    pub timeout: Duration,
    pub import_map: crate::packages::ImportMapSource,
}

impl PackageSettings {
    fn from_env<G: Fn(&str) -> Option<String>>(env: &Env<G>, root: &Path) -> Result<PackageSettings, ConfigError> {
        let dir_var = env.var("MCP_CONDUCTOR_PACKAGES_DIR").map(|(name, d)| (name, PathBuf::from(d)));
        if let Some((name, dir)) = &dir_var
            && !dir.is_absolute()
        {
            return Err(ConfigError(format!("{name} must be an absolute path, got '{}'", dir.display())));
        }
        let install = match env.var("MCP_CONDUCTOR_PACKAGES") {
            None => Vec::new(),
            Some((name, raw)) => {
                let specs: Vec<String> =
                    raw.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
                if specs.iter().any(|s| s == "*" || s.eq_ignore_ascii_case("all")) {
                    return Err(ConfigError(format!(
                        "{name}: '*'/'all' is not supported: code may import exactly the packages installed in \
                         MCP_CONDUCTOR_PACKAGES_DIR (list them here, e.g. zod@^3.23,lodash@4.17.21, or run \
                         `mcp-conductor packages add <name>`); no package is ever fetched for code"
                    )));
                }
                crate::packages::install::parse_all(&specs).map_err(|e| ConfigError(format!("{name}: {e}")))?
            }
        };
        let import_map = match env.var("MCP_CONDUCTOR_IMPORT_MAP") {
            Some((name, path)) => {
                let path = PathBuf::from(path);
                if !path.is_absolute() {
                    return Err(ConfigError(format!("{name} must be an absolute path, got '{}'", path.display())));
                }
                crate::packages::ImportMapSource::Explicit(path)
            }
            None => crate::packages::ImportMapSource::Default,
        };
        Ok(PackageSettings {
            dir_from_env: dir_var.is_some(),
            dir: dir_var.map(|(_, d)| d).unwrap_or_else(|| root.join("packages")),
            install,
            timeout: timeout_var(env, "MCP_CONDUCTOR_PACKAGES_TIMEOUT", 300_000)?,
            import_map,
        })
    }
}

/// A source of trusted certificate authorities (`MCP_CONDUCTOR_TLS_CA_STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaStore {
    Mozilla,
    System,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// `MCP_CONDUCTOR_LOG_FORMAT`, read on its own: logging starts before the rest of the
/// configuration is read (so its errors can be logged).
pub fn log_format_from_env() -> Result<LogFormat, ConfigError> {
    parse_log_format(std::env::var("MCP_CONDUCTOR_LOG_FORMAT").ok().as_deref())
}

/// `MCP_CONDUCTOR_LOG`, read on its own like the format. tracing's filter syntax takes a bare
/// word as a target name (`warning` would show only the logs of a module named `warning`, and
/// hide the server's own errors): a bare word must be a level.
pub fn log_filter_from_env() -> Result<String, ConfigError> {
    parse_log_filter(std::env::var("MCP_CONDUCTOR_LOG").ok().as_deref())
}

fn parse_log_filter(raw: Option<&str>) -> Result<String, ConfigError> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let raw = raw.map(str::trim).filter(|r| !r.is_empty()).unwrap_or("info");
    for directive in raw.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = match directive.rsplit_once('=') {
            Some((_, level)) => level,
            None if directive.contains('[') => continue,
            None => directive,
        };
        if !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level.trim())) {
            return Err(ConfigError(format!(
                "MCP_CONDUCTOR_LOG: '{directive}' is not a level: use one of {} (e.g. `warn`), or target=level \
                 (e.g. `info,mcp_conductor=debug`)",
                LEVELS.join(", ")
            )));
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(raw)
        .map_err(|e| ConfigError(format!("MCP_CONDUCTOR_LOG: '{raw}' is not a valid filter: {e}")))?;
    Ok(raw.to_string())
}

fn parse_log_format(raw: Option<&str>) -> Result<LogFormat, ConfigError> {
    match raw.map(str::trim) {
        None | Some("") | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(ConfigError(format!("MCP_CONDUCTOR_LOG_FORMAT must be text or json, got '{other}'"))),
    }
}

/// `mcp-conductor http`: the streamable HTTP transport's settings (CLI flags override them).
#[derive(Clone)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    /// The address the server is bound to, once it listens (`mcp-conductor http`; set before the
    /// sandbox is built, which denies code every form of it).
    pub listening: Option<std::net::SocketAddr>,
    /// The bearer token, from the file or the variable.
    pub token: Option<String>,
    /// Where the token came from (a file is put on the server-owned deny list).
    pub token_file: Option<PathBuf>,
    pub allow_unauthenticated: bool,
    /// `None`: any Host.
    pub allowed_hosts: Option<Vec<String>>,
    /// Unset: see [`HttpSettings::allowed_origins`].
    pub allowed_origins: Option<Vec<String>>,
    pub stateless: bool,
    pub max_sessions: usize,
    pub session_idle_timeout: Duration,
    pub max_body_bytes: usize,
    pub shutdown_delay: Duration,
    pub shutdown_timeout: Duration,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("listening", &self.listening)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("token_file", &self.token_file)
            .field("stateless", &self.stateless)
            .finish_non_exhaustive()
    }
}

/// Taken out of the environment at startup ([`crate::secret_env`]).
const TOKEN_VAR: &str = "MCP_CONDUCTOR_HTTP_AUTH_TOKEN";

fn bool_var<G: Fn(&str) -> Option<String>>(env: &Env<G>, name: &'static str) -> Result<bool, ConfigError> {
    match env.var(name) {
        None => Ok(false),
        Some((_, v)) if v.trim().eq_ignore_ascii_case("true") => Ok(true),
        Some((_, v)) if v.trim().eq_ignore_ascii_case("false") => Ok(false),
        Some((name, v)) => Err(ConfigError(format!("{name} must be true or false, got '{v}'"))),
    }
}

fn list_var<G: Fn(&str) -> Option<String>>(env: &Env<G>, name: &'static str) -> Option<Vec<String>> {
    env.var(name).map(|(_, v)| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
}

/// Milliseconds, 0 allowed (a delay); [`timeout_var`] for those that must be positive.
fn ms_var<G: Fn(&str) -> Option<String>>(env: &Env<G>, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    millis_var(env, name, default, false)
}

impl HttpSettings {
    fn from_env<G: Fn(&str) -> Option<String>>(env: &Env<G>, max_timeout: Duration) -> Result<HttpSettings, ConfigError> {
        let port = match env.var("MCP_CONDUCTOR_HTTP_PORT") {
            None => 3001,
            Some((name, raw)) => raw
                .trim()
                .parse::<u16>()
                .map_err(|_| ConfigError(format!("{name} must be a port number from 0 to 65535, got '{raw}'")))?,
        };
        let token_file = env.var("MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE").map(|(_, p)| PathBuf::from(p));
        let from_var = crate::secret_env::taken(TOKEN_VAR).or_else(|| env.var(TOKEN_VAR).map(|(_, v)| v));
        let token = match (&token_file, from_var) {
            (Some(_), Some(_)) => {
                return Err(ConfigError(format!(
                    "MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE and {TOKEN_VAR} are both set: give the token one way"
                )));
            }
            (Some(file), None) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    ConfigError(format!("MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE: cannot read '{}': {e}", file.display()))
                })?;
                let token = text.trim().to_string();
                if token.is_empty() {
                    return Err(ConfigError(format!("MCP_CONDUCTOR_HTTP_AUTH_TOKEN_FILE: '{}' is empty", file.display())));
                }
                Some(token)
            }
            (None, token) => token.map(|t| t.trim().to_string()),
        };
        let allowed_hosts = match list_var(env, "MCP_CONDUCTOR_HTTP_ALLOWED_HOSTS") {
            Some(list) if list.iter().any(|h| h == "*") => None,
            Some(list) => Some(list),
            None => Some(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]),
        };
        let floor = max_timeout + Duration::from_secs(60);
        let session_idle_timeout = match env.var("MCP_CONDUCTOR_HTTP_SESSION_IDLE_TIMEOUT") {
            None => floor.max(Duration::from_secs(30 * 60)),
            Some(_) => {
                let t = ms_var(env, "MCP_CONDUCTOR_HTTP_SESSION_IDLE_TIMEOUT", 0)?;
                if t <= floor {
                    return Err(ConfigError(format!(
                        "MCP_CONDUCTOR_HTTP_SESSION_IDLE_TIMEOUT ({} ms) must be above MCP_CONDUCTOR_MAX_TIMEOUT + 60000 \
                         ({} ms): a running tool call does not reset the session's idle timer",
                        t.as_millis(),
                        floor.as_millis()
                    )));
                }
                t
            }
        };
        Ok(HttpSettings {
            host: env.var("MCP_CONDUCTOR_HTTP_HOST").map(|(_, h)| h.trim().to_string()).unwrap_or_else(|| "127.0.0.1".into()),
            allowed_origins: origins_var(env)?,
            port,
            listening: None,
            token,
            token_file,
            allow_unauthenticated: bool_var(env, "MCP_CONDUCTOR_HTTP_ALLOW_UNAUTHENTICATED")?,
            allowed_hosts,
            stateless: bool_var(env, "MCP_CONDUCTOR_HTTP_STATELESS")?,
            max_sessions: count_var(env, "MCP_CONDUCTOR_HTTP_MAX_SESSIONS", 100, 1..=100_000)?,
            session_idle_timeout,
            max_body_bytes: count_var(env, "MCP_CONDUCTOR_HTTP_MAX_BODY_BYTES", 16 << 20, 1024..=1 << 30)?,
            shutdown_delay: ms_var(env, "MCP_CONDUCTOR_HTTP_SHUTDOWN_DELAY", 0)?,
            shutdown_timeout: ms_var(env, "MCP_CONDUCTOR_HTTP_SHUTDOWN_TIMEOUT", 30_000)?,
        })
    }
}

/// `MCP_CONDUCTOR_HTTP_ALLOWED_ORIGINS`: each entry as a browser sends `Origin`,
/// `scheme://host[:port|:*]` (an entry without a scheme, or with a path, would never match).
/// Unset, a server bound to loopback accepts pages served from the loopback names on any port
/// (the Inspector's UI, local web apps), as the TypeScript SDK's DNS-rebinding protection does: a
/// rebound name still fails the Host check, and a remote page's Origin is not loopback.
/// `None` when unset ([`HttpSettings::allowed_origins`] then applies the default for the host
/// finally chosen, `--host` included).
fn origins_var<G: Fn(&str) -> Option<String>>(env: &Env<G>) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(origins) = list_var(env, "MCP_CONDUCTOR_HTTP_ALLOWED_ORIGINS") else { return Ok(None) };
    for origin in &origins {
        let well_formed = origin.split_once("://").is_some_and(|(scheme, rest)| {
            matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
                && !rest.is_empty()
                && !rest.contains(['/', '?', '#', '@', ' '])
        });
        if !well_formed {
            return Err(ConfigError(format!(
                "MCP_CONDUCTOR_HTTP_ALLOWED_ORIGINS: '{origin}' is not an origin: write scheme://host[:port|:*], \
                 e.g. http://localhost:6274 or https://app.example.com (no path)"
            )));
        }
    }
    Ok(Some(origins))
}

impl HttpSettings {
    /// The browser origins `/mcp` accepts: `MCP_CONDUCTOR_HTTP_ALLOWED_ORIGINS`, or unset, the
    /// loopback origins when the server listens on a loopback host.
    pub fn allowed_origins(&self) -> Vec<String> {
        match &self.allowed_origins {
            Some(listed) => listed.clone(),
            None if crate::http::is_loopback(&self.host) => LOOPBACK_ORIGIN_HOSTS
                .iter()
                .flat_map(|h| ["http", "https"].map(|scheme| format!("{scheme}://{h}:*")))
                .collect(),
            None => Vec::new(),
        }
    }
}

/// The host names a loopback server accepts browser `Origin`s from by default.
const LOOPBACK_ORIGIN_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Per-execution limits (hardening); each is reported in the result when hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_memory_bytes: usize,
    pub max_output_bytes: usize,
    pub max_return_bytes: usize,
    /// Images, audio and files added to one result (`MCP_CONDUCTOR_MAX_CONTENT_BYTES`).
    pub max_content_bytes: usize,
    pub max_concurrency: usize,
    /// Execution threads stuck in a blocking call that may be abandoned at once
    /// (`MCP_CONDUCTOR_MAX_ABANDONED`).
    pub max_abandoned: usize,
    /// The same for one client (`MCP_CONDUCTOR_MAX_ABANDONED_PER_CLIENT`).
    pub max_abandoned_per_client: usize,
}

#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl From<RunArgsError> for ConfigError {
    fn from(e: RunArgsError) -> Self {
        ConfigError(e.to_string())
    }
}

/// The environment seen through [`ENV_VARS`]: a variable is read under its name or an alias.
struct Env<G> {
    get: G,
}

impl<G: Fn(&str) -> Option<String>> Env<G> {
    /// Fails when two names of one variable are set to different values.
    fn check_aliases(&self) -> Result<(), ConfigError> {
        for var in ENV_VARS {
            let mut first: Option<(&'static str, String)> = None;
            for name in var.names() {
                let Some(value) = (self.get)(name) else { continue };
                if let Some((seen, seen_value)) = &first {
                    if seen_value.trim() != value.trim() {
                        return Err(ConfigError(format!(
                            "{seen} ('{seen_value}') and {name} ('{value}') are both set, to different values: \
                             they are two names of one setting, set only one of them"
                        )));
                    }
                } else {
                    first = Some((name, value));
                }
            }
        }
        Ok(())
    }

    /// The value of variable `name` (from [`ENV_VARS`]) under its name or an alias, with the
    /// name it was found under (for messages).
    fn var(&self, name: &'static str) -> Option<(&'static str, String)> {
        let var = ENV_VARS.iter().find(|v| v.name == name);
        debug_assert!(var.is_some(), "{name} is not in ENV_VARS");
        match var {
            Some(var) => var.names().find_map(|n| (self.get)(n).map(|value| (n, value))),
            None => (self.get)(name).map(|value| (name, value)),
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads the configuration through `get` (unset and empty are the same); creates no files.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let env = Env { get };
        env.check_aliases()?;
        let home = (env.get)("HOME").map(PathBuf::from);
        let explicit_root = match env.var("MCP_CONDUCTOR_ROOT") {
            Some((name, dir)) => {
                let dir = PathBuf::from(dir);
                if !dir.is_absolute() {
                    return Err(ConfigError(format!("{name} must be an absolute path, got '{}'", dir.display())));
                }
                Some(dir)
            }
            None => None,
        };
        let workspace = match (env.var("MCP_CONDUCTOR_WORKSPACE"), &explicit_root, &home) {
            (Some((_, dir)), _, _) => PathBuf::from(dir),
            (None, Some(root), _) => root.join("workspace"),
            (None, None, Some(home)) => home.join(".mcp-conductor").join("workspace"),
            (None, None, None) => {
                return Err(ConfigError(
                    "HOME is not set: set MCP_CONDUCTOR_WORKSPACE to the workspace directory, or MCP_CONDUCTOR_ROOT".into(),
                ));
            }
        };
        if !workspace.is_absolute() {
            return Err(ConfigError(format!(
                "MCP_CONDUCTOR_WORKSPACE must be an absolute path, got '{}'",
                workspace.display()
            )));
        }
        let root_from_env = explicit_root.is_some();
        let root = explicit_root.unwrap_or_else(|| default_root(&workspace));
        let max_timeout = timeout_var(&env, "MCP_CONDUCTOR_MAX_TIMEOUT", MAX_TIMEOUT_MS)?;
        // An unset default follows a lowered maximum; an explicit one above it is a mistake.
        let implicit_default = Duration::from_millis(DEFAULT_TIMEOUT_MS).min(max_timeout);
        let default_timeout = timeout_var(&env, "MCP_CONDUCTOR_DEFAULT_TIMEOUT", implicit_default.as_millis() as u64)?;
        if default_timeout > max_timeout {
            return Err(ConfigError(format!(
                "MCP_CONDUCTOR_DEFAULT_TIMEOUT ({} ms) is larger than MCP_CONDUCTOR_MAX_TIMEOUT ({} ms)",
                default_timeout.as_millis(),
                max_timeout.as_millis()
            )));
        }
        let run_args = RunArgs::parse(&env.var("MCP_CONDUCTOR_RUN_ARGS").map(|(_, v)| v).unwrap_or_default())?;
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let pool_size = count_var(&env, "MCP_CONDUCTOR_POOL_SIZE", cpus, 0..=64)?;
        let max_abandoned = count_var(&env, "MCP_CONDUCTOR_MAX_ABANDONED", 16, 1..=1024)?;
        let limits = Limits {
            max_memory_bytes: count_var(&env, "MCP_CONDUCTOR_MAX_MEMORY_MB", 256, 16..=65536)? << 20,
            max_output_bytes: count_var(&env, "MCP_CONDUCTOR_MAX_OUTPUT_BYTES", 1 << 20, 1..=1 << 30)?,
            max_return_bytes: count_var(&env, "MCP_CONDUCTOR_MAX_RETURN_BYTES", 1 << 20, 1..=1 << 30)?,
            max_content_bytes: count_var(&env, "MCP_CONDUCTOR_MAX_CONTENT_BYTES", 16 << 20, 0..=1 << 30)?,
            max_concurrency: count_var(&env, "MCP_CONDUCTOR_MAX_CONCURRENCY", 2 * cpus, 1..=1024)?,
            max_abandoned,
            // Unset, it follows a lowered process-wide limit.
            max_abandoned_per_client: count_var(&env, "MCP_CONDUCTOR_MAX_ABANDONED_PER_CLIENT", 4.min(max_abandoned), 1..=1024)?,
        };
        if limits.max_abandoned_per_client > limits.max_abandoned {
            return Err(ConfigError(format!(
                "MCP_CONDUCTOR_MAX_ABANDONED_PER_CLIENT ({}) must not exceed MCP_CONDUCTOR_MAX_ABANDONED ({})",
                limits.max_abandoned_per_client, limits.max_abandoned
            )));
        }
        let config_var = env.var("MCP_CONDUCTOR_MCP_CONFIG").map(|(name, path)| (name, PathBuf::from(path)));
        let proxy = ProxySettings {
            source: ConfigSource::new(config_var, home.as_deref(), &root, &workspace),
            connect_timeout: timeout_var(&env, "MCP_CONDUCTOR_MCP_CONNECT_TIMEOUT", 15_000)?,
            call_timeout: timeout_var(&env, "MCP_CONDUCTOR_MCP_CALL_TIMEOUT", 60_000)?,
        };
        let http = HttpSettings::from_env(&env, max_timeout)?;
        let log_format = parse_log_format(env.var("MCP_CONDUCTOR_LOG_FORMAT").map(|(_, v)| v).as_deref())?;
        let tls_ca_stores = match list_var(&env, "MCP_CONDUCTOR_TLS_CA_STORE") {
            None => vec![CaStore::Mozilla],
            Some(names) => names
                .iter()
                .map(|n| match n.as_str() {
                    "mozilla" => Ok(CaStore::Mozilla),
                    "system" => Ok(CaStore::System),
                    other => Err(ConfigError(format!(
                        "MCP_CONDUCTOR_TLS_CA_STORE: unknown store '{other}': use mozilla, system or both"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let tls_ca_file = env.var("MCP_CONDUCTOR_TLS_CA_FILE").map(|(_, p)| PathBuf::from(p));
        let egress = match env.var("MCP_CONDUCTOR_EGRESS") {
            Some((_, path)) if !Path::new(&path).is_absolute() => {
                return Err(ConfigError(format!("MCP_CONDUCTOR_EGRESS must be an absolute path, got '{path}'")));
            }
            other => other.map(|(_, p)| PathBuf::from(p)),
        };
        let packages = PackageSettings::from_env(&env, &root)?;
        let results = ResultsSettings::from_env(&env, &root, &workspace, home.as_deref())?;
        let state = crate::state::StateSettings {
            ttl: timeout_var(&env, "MCP_CONDUCTOR_STATE_TTL", 3_600_000)?,
            max_bytes: count_var(&env, "MCP_CONDUCTOR_STATE_MAX_BYTES", 1 << 20, 1..=1 << 30)?,
            max_handles: count_var(&env, "MCP_CONDUCTOR_STATE_MAX_HANDLES", 1000, 1..=1_000_000)?,
            max_handles_per_client: 0,
        };
        let state = crate::state::StateSettings {
            max_handles_per_client: count_var(&env, "MCP_CONDUCTOR_STATE_MAX_HANDLES_PER_CLIENT", 100, 1..=1_000_000)?
                .min(state.max_handles),
            ..state
        };
        let task_ttl = match env.var("MCP_CONDUCTOR_TASK_TTL") {
            None => (max_timeout + Duration::from_secs(60)).max(Duration::from_secs(3600)),
            Some(_) => {
                let ttl = timeout_var(&env, "MCP_CONDUCTOR_TASK_TTL", 0)?;
                if ttl <= max_timeout {
                    return Err(ConfigError(format!(
                        "MCP_CONDUCTOR_TASK_TTL ({} ms) must be above MCP_CONDUCTOR_MAX_TIMEOUT ({} ms): a task is \
                         dropped at its TTL, and must outlive its execution",
                        ttl.as_millis(),
                        max_timeout.as_millis()
                    )));
                }
                ttl
            }
        };
        let task_max = count_var(&env, "MCP_CONDUCTOR_TASK_MAX", 64, 1..=10_000)?;
        Ok(Config {
            packages,
            results,
            state,
            task_ttl,
            task_max,
            proxy,
            http,
            log_format,
            tls_ca_stores,
            tls_ca_file,
            egress,
            pool_size,
            limits,
            playbooks_dir: root.join("playbooks"),
            workspace,
            root,
            run_args,
            default_timeout,
            max_timeout,
            root_from_env,
            home,
        })
    }

    /// Creates the workspace and resolves it (and the paths derived from it) to canonical form,
    /// so permission paths and stack traces agree with what the filesystem says.
    pub fn prepare_workspace(&mut self) -> Result<(), ConfigError> {
        std::fs::create_dir_all(&self.workspace).map_err(|e| {
            ConfigError(format!("cannot create workspace '{}': {e}", self.workspace.display()))
        })?;
        let canonical = self.workspace.canonicalize().map_err(|e| {
            ConfigError(format!("cannot resolve workspace '{}': {e}", self.workspace.display()))
        })?;
        if !self.root_from_env {
            self.root = default_root(&canonical);
            self.playbooks_dir = self.root.join("playbooks");
            if !self.packages.dir_from_env {
                self.packages.dir = self.root.join("packages");
            }
        }
        self.workspace = canonical;
        // Again with the resolved paths: a default file inside the workspace is never used.
        if let ConfigSource::Files(_) = self.proxy.source {
            self.proxy.source = ConfigSource::new(None, self.home.as_deref(), &self.root, &self.workspace);
        }
        self.check_server_dirs()?;
        // The results directory exists (0700) before the sandbox's deny lists take its real path.
        let results = self.results.dir.clone();
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&results).map_err(|e| {
                ConfigError(format!("MCP_CONDUCTOR_RESULTS_DIR: cannot create '{}': {e}", results.display()))
            })?;
        }
        self.results.dir = results.canonicalize().map_err(|e| {
            ConfigError(format!("MCP_CONDUCTOR_RESULTS_DIR: cannot resolve '{}': {e}", results.display()))
        })?;
        Ok(())
    }

    /// The playbooks directory must not be (or contain) the workspace: code allowed to write the
    /// workspace would write playbooks, which run in other clients' executions. The results
    /// directory must not overlap the workspace (other clients' results would be readable), nor
    /// the playbooks or packages directory. Called with the workspace resolved; recomputes the
    /// default results directory from the resolved paths.
    fn check_server_dirs(&mut self) -> Result<(), ConfigError> {
        fn overlap(a: &Path, b: &Path) -> bool {
            a.starts_with(b) || b.starts_with(a)
        }
        let workspace = self.workspace.clone();
        let playbooks = real_path(&self.playbooks_dir);
        if workspace.starts_with(&playbooks) {
            return Err(ConfigError(format!(
                "the playbooks directory {} (<MCP_CONDUCTOR_ROOT>/playbooks) is the workspace or contains it \
                 (MCP_CONDUCTOR_WORKSPACE: {}): code allowed to write the workspace could rewrite playbooks that \
                 other clients run. Set MCP_CONDUCTOR_ROOT or MCP_CONDUCTOR_WORKSPACE so that the workspace is \
                 outside {}",
                playbooks.display(),
                workspace.display(),
                playbooks.display()
            )));
        }
        if !self.results.dir_from_env {
            let home = self.home.as_deref().map(real_path);
            self.results.dir = default_results_dir(&real_path(&self.root), &workspace, home.as_deref());
        }
        let results = real_path(&self.results.dir);
        let named = if self.results.dir_from_env {
            "MCP_CONDUCTOR_RESULTS_DIR"
        } else {
            "the results directory (MCP_CONDUCTOR_RESULTS_DIR's default)"
        };
        let packages = real_path(&self.packages.dir);
        for (other, what) in [
            (&workspace, "the workspace (MCP_CONDUCTOR_WORKSPACE)"),
            (&playbooks, "the playbooks directory (<MCP_CONDUCTOR_ROOT>/playbooks)"),
            (&packages, "the packages directory (MCP_CONDUCTOR_PACKAGES_DIR)"),
        ] {
            if overlap(&results, other) {
                return Err(ConfigError(format!(
                    "{named}, {}, overlaps {what}, {}: large results are kept out of code's reach and apart from \
                     the server's other files. Set MCP_CONDUCTOR_RESULTS_DIR to a directory outside both",
                    results.display(),
                    other.display()
                )));
            }
        }
        self.results.dir = results;
        Ok(())
    }
}

fn default_root(workspace: &Path) -> PathBuf {
    match (workspace.file_name(), workspace.parent()) {
        (Some(name), Some(parent)) if name == "workspace" => parent.to_path_buf(),
        _ => workspace.to_path_buf(),
    }
}

fn count_var<G: Fn(&str) -> Option<String>>(
    env: &Env<G>,
    name: &'static str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ConfigError> {
    let Some((name, raw)) = env.var(name) else {
        return Ok(default);
    };
    raw.trim().parse::<usize>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
        ConfigError(format!(
            "{name} must be a whole number from {} to {}, got '{raw}'",
            range.start(),
            range.end()
        ))
    })
}

fn timeout_var<G: Fn(&str) -> Option<String>>(env: &Env<G>, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    millis_var(env, name, default, true)
}

fn millis_var<G: Fn(&str) -> Option<String>>(
    env: &Env<G>,
    name: &'static str,
    default: u64,
    positive: bool,
) -> Result<Duration, ConfigError> {
    let Some((name, raw)) = env.var(name) else {
        return Ok(Duration::from_millis(default));
    };
    match raw.trim().parse::<u64>() {
        Ok(ms) if ms > 0 || !positive => Ok(Duration::from_millis(ms)),
        _ => {
            let what = if positive { "a positive whole number" } else { "a whole number" };
            Err(ConfigError(format!("{name} must be {what} of milliseconds, got '{raw}'")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[("HOME", "/home/u")]).unwrap();
        assert_eq!(c.workspace, PathBuf::from("/home/u/.mcp-conductor/workspace"));
        assert_eq!(c.root, PathBuf::from("/home/u/.mcp-conductor"));
        assert_eq!(c.playbooks_dir, PathBuf::from("/home/u/.mcp-conductor/playbooks"));
        assert_eq!(c.default_timeout, Duration::from_millis(30_000));
        assert_eq!(c.max_timeout, Duration::from_millis(300_000));
        assert!(c.run_args.is_zero());
        assert_eq!(c.limits.max_memory_bytes, 256 << 20);
        assert_eq!(c.limits.max_output_bytes, 1 << 20);
        assert_eq!(c.limits.max_return_bytes, 1 << 20);
        assert!(c.limits.max_concurrency >= 2);
        assert_eq!(c.limits.max_abandoned, 16);
        assert_eq!(c.packages.dir, PathBuf::from("/home/u/.mcp-conductor/packages"));
        assert!(c.packages.install.is_empty());
        assert_eq!(c.results.dir, PathBuf::from("/home/u/.mcp-conductor/results"));
        assert_eq!(c.results.ttl, Duration::from_millis(3_600_000));
        assert_eq!(c.results.max_bytes, 1 << 30);
        assert_eq!(
            c.proxy.source.path(),
            Some(PathBuf::from("/home/u/.mcp-conductor/mcp-config.json")),
            "ROOT is ~/.mcp-conductor: the home files, in their old order"
        );
    }

    #[test]
    fn root_rules() {
        let c = config(&[("MCP_CONDUCTOR_WORKSPACE", "/srv/ws")]).unwrap();
        assert_eq!(c.root, PathBuf::from("/srv/ws"));
        let c = config(&[("MCP_CONDUCTOR_WORKSPACE", "/srv/ws"), ("MCP_CONDUCTOR_ROOT", "/r")]).unwrap();
        assert_eq!(c.playbooks_dir, PathBuf::from("/r/playbooks"));
        // A root alone places the workspace under it (as the original's base dir did); no HOME needed.
        let c = config(&[("MCP_CONDUCTOR_ROOT", "/r")]).unwrap();
        assert_eq!(c.workspace, PathBuf::from("/r/workspace"));
        assert_eq!(c.proxy.source.path(), Some(PathBuf::from("/r/mcp.json")));
        let e = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_BASE_DIR", "rel")]).unwrap_err();
        assert!(e.0.contains("MCP_CONDUCTOR_BASE_DIR must be an absolute path"), "{e}");
    }

    #[test]
    fn aliases() {
        let c = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_BASE_DIR", "/base")]).unwrap();
        assert_eq!((c.root.as_path(), c.workspace.as_path()), (Path::new("/base"), Path::new("/base/workspace")));
        let source = ConfigSource::Files(
            ["/base/mcp.json", "/h/.mcp-conductor/mcp-config.json", "/h/.mcp-conductor/mcp.json"].map(PathBuf::from).to_vec(),
        );
        assert_eq!(c.proxy.source, source);
        let c = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_MAX_RETURN_SIZE", "4096")]).unwrap();
        assert_eq!(c.limits.max_return_bytes, 4096);
        let c = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_PROXY_CONFIG", "/p.json")]).unwrap();
        assert_eq!(c.proxy.source, ConfigSource::Variable("MCP_CONDUCTOR_PROXY_CONFIG", "/p.json".into()));

        // Both names: the same value is fine, different values name both variables.
        let c = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_ROOT", "/r"), ("MCP_CONDUCTOR_BASE_DIR", "/r")]).unwrap();
        assert_eq!(c.root, PathBuf::from("/r"));
        for (a, b) in [
            ("MCP_CONDUCTOR_ROOT", "MCP_CONDUCTOR_BASE_DIR"),
            ("MCP_CONDUCTOR_MAX_RETURN_BYTES", "MCP_CONDUCTOR_MAX_RETURN_SIZE"),
            ("MCP_CONDUCTOR_MCP_CONFIG", "MCP_CONDUCTOR_PROXY_CONFIG"),
        ] {
            let e = config(&[("HOME", "/h"), (a, "/1"), (b, "/2")]).unwrap_err();
            assert!(e.0.contains(a) && e.0.contains(b) && e.0.contains("different values"), "{e}");
        }
        // A bad value is reported under the name it was given as.
        let e = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_MAX_RETURN_SIZE", "big")]).unwrap_err();
        assert!(e.0.starts_with("MCP_CONDUCTOR_MAX_RETURN_SIZE must be a whole number"), "{e}");
        let e = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_MAX_ABANDONED", "0")]).unwrap_err();
        assert!(e.0.contains("MCP_CONDUCTOR_MAX_ABANDONED must be a whole number from 1"), "{e}");
    }

    /// docs/configuration.md's table lists exactly [`ENV_VARS`]: the same variables and aliases
    /// (first column), in the same order, with the same default text (second column).
    #[test]
    fn documented_table_matches_env_vars() {
        let page = include_str!("../docs/configuration.md");
        let section = page
            .split("\n## Environment variables\n")
            .nth(1)
            .expect("docs/configuration.md has a `## Environment variables` section");
        let rows: Vec<&str> = section
            .lines()
            .skip_while(|line| !line.starts_with("| Variable |"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .collect();
        let documented: Vec<&str> = rows.iter().map(|row| row.split('|').nth(1).unwrap_or("").trim()).collect();
        let table_names: Vec<&str> = ENV_VARS.iter().map(|v| v.name).collect();
        assert_eq!(documented.len(), ENV_VARS.len(), "documented rows {documented:#?}\nENV_VARS {table_names:#?}");
        for (row, var) in rows.iter().zip(ENV_VARS) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            assert!(cells.len() >= 4, "row has no Default column: {row}");
            let names: Vec<&str> = cells[1]
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|s| s.starts_with("MCP_CONDUCTOR_") || s.starts_with("OTEL_"))
                .collect();
            let expected: Vec<&str> = var.names().collect();
            assert_eq!(names, expected, "the row's variable and aliases, in the first column: {row}");
            assert_eq!(cells[2], var.default, "docs/configuration.md's default for {} differs from ENV_VARS", var.name);
        }
    }

    #[test]
    fn help_lists_every_name_and_default() {
        let help = env_help();
        for var in ENV_VARS {
            for name in var.names() {
                assert!(help.contains(name), "--help lacks {name}");
            }
            let default = format!("Default: {}", plain(var.default));
            let first_words: String = default.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
            assert!(help.contains(&first_words), "--help lacks {first_words:?} for {}", var.name);
        }
        assert!(help.lines().all(|l| l.chars().count() <= HELP_WIDTH + 6 || !l.trim().contains(' ')), "{help}");
        assert!(help.contains("MCP_CONDUCTOR_ROOT (alias: MCP_CONDUCTOR_BASE_DIR)"), "{help}");
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
    }

    #[test]
    fn packages() {
        let c = config(&[("MCP_CONDUCTOR_ROOT", "/r"), ("MCP_CONDUCTOR_ALLOWED_PACKAGES", "npm:axios@^1, jsr:@std/path")])
            .unwrap();
        assert_eq!(c.packages.dir, PathBuf::from("/r/packages"));
        let names: Vec<&str> = c.packages.install.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["axios", "@jsr/std__path"]);
        for all in ["*", "all", "zod,*"] {
            let e = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_ALLOWED_PACKAGES", all)]).unwrap_err();
            assert!(e.0.starts_with("MCP_CONDUCTOR_ALLOWED_PACKAGES: '*'/'all' is not supported"), "{e}");
        }
        let e = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_PACKAGES", "zod/v4")]).unwrap_err();
        assert!(e.0.contains("MCP_CONDUCTOR_PACKAGES") && e.0.contains("no subpath"), "{e}");
        let e = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_PACKAGES_DIR", "rel")]).unwrap_err();
        assert!(e.0.contains("MCP_CONDUCTOR_PACKAGES_DIR must be an absolute path"), "{e}");
    }

    #[test]
    fn results_settings() {
        // ROOT is the workspace (its directory is not named `workspace`): never inside it.
        let c = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_WORKSPACE", "/srv/ws")]).unwrap();
        assert_eq!(c.results.dir, PathBuf::from("/h/.mcp-conductor/results"));
        let c = config(&[("MCP_CONDUCTOR_ROOT", "/r")]).unwrap();
        assert_eq!(c.results.dir, PathBuf::from("/r/results"));
        let c = config(&[
            ("HOME", "/h"),
            ("MCP_CONDUCTOR_RESULTS_DIR", "/var/r"),
            ("MCP_CONDUCTOR_RESULTS_TTL", "500"),
            ("MCP_CONDUCTOR_RESULTS_MAX_BYTES", "4096"),
        ])
        .unwrap();
        assert_eq!(c.results.dir, PathBuf::from("/var/r"));
        assert_eq!((c.results.ttl, c.results.max_bytes), (Duration::from_millis(500), 4096));
        for (name, value) in
            [("MCP_CONDUCTOR_RESULTS_DIR", "rel"), ("MCP_CONDUCTOR_RESULTS_TTL", "0"), ("MCP_CONDUCTOR_RESULTS_MAX_BYTES", "0")]
        {
            let e = config(&[("HOME", "/h"), (name, value)]).unwrap_err();
            assert!(e.0.contains(name), "{e}");
        }
    }

    #[test]
    fn server_dirs_stay_apart_from_the_workspace() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path().canonicalize().unwrap();
        let s = |p: &str| t.join(p).display().to_string();
        // The workspace inside the playbooks directory.
        let (root, ws) = (s("r"), s("r/playbooks/ws"));
        let mut c = config(&[("MCP_CONDUCTOR_ROOT", root.as_str()), ("MCP_CONDUCTOR_WORKSPACE", ws.as_str())]).unwrap();
        let e = c.prepare_workspace().unwrap_err();
        assert!(e.0.contains("MCP_CONDUCTOR_ROOT") && e.0.contains("MCP_CONDUCTOR_WORKSPACE"), "{e}");
        // The playbooks directory is the workspace ( `..` forms resolve first).
        let (root, ws) = (s("q"), s("q/x/../playbooks"));
        let mut c = config(&[("MCP_CONDUCTOR_ROOT", root.as_str()), ("MCP_CONDUCTOR_WORKSPACE", ws.as_str())]).unwrap();
        assert!(c.prepare_workspace().unwrap_err().0.contains("playbooks directory"));
        // Results inside the workspace, or containing it.
        let (home, ws) = (s("h"), s("ws"));
        for dir in [s("ws/results"), s(""), ws.clone()] {
            let vars = [("HOME", home.as_str()), ("MCP_CONDUCTOR_WORKSPACE", ws.as_str()), ("MCP_CONDUCTOR_RESULTS_DIR", dir.as_str())];
            let e = config(&vars).unwrap().prepare_workspace().unwrap_err();
            assert!(e.0.contains("MCP_CONDUCTOR_RESULTS_DIR") && e.0.contains("workspace"), "{dir}: {e}");
        }
        // The default, with a workspace that is its own ROOT: outside it, created 0700.
        let mut c = config(&[("HOME", home.as_str()), ("MCP_CONDUCTOR_WORKSPACE", ws.as_str())]).unwrap();
        c.prepare_workspace().unwrap();
        assert_eq!(c.results.dir, t.join("h/.mcp-conductor/results"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&c.results.dir).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn origins_need_a_scheme_and_no_path() {
        let origins = |v: &str| config(&[("HOME", "/h"), ("MCP_CONDUCTOR_HTTP_ALLOWED_ORIGINS", v)]).map(|c| c.http.allowed_origins());
        assert_eq!(origins("http://localhost:6274, https://a.example:*").unwrap(), ["http://localhost:6274", "https://a.example:*"]);
        for bad in ["localhost:6274", "app.example.com", "https://a.example/path", "ftp://a.example", "https://"] {
            let e = origins(bad).unwrap_err().0;
            assert!(e.starts_with("MCP_CONDUCTOR_HTTP_ALLOWED_ORIGINS: ") && e.contains("is not an origin"), "{bad}: {e}");
        }
        // Unset: loopback origins on a loopback host, none elsewhere; set empty: none.
        let default = |host: &str| config(&[("HOME", "/h"), ("MCP_CONDUCTOR_HTTP_HOST", host)]).unwrap().http.allowed_origins();
        for host in ["127.0.0.1", "localhost", "::1"] {
            let o = default(host);
            assert!(o.contains(&"http://localhost:*".to_string()) && o.contains(&"https://[::1]:*".to_string()), "{o:?}");
            assert!(o.iter().all(|o| LOOPBACK_ORIGIN_HOSTS.iter().any(|h| o.ends_with(&format!("://{h}:*")))), "{o:?}");
        }
        assert!(default("0.0.0.0").is_empty() && default("10.1.2.3").is_empty());
        assert!(origins("").unwrap().is_empty());
    }

    #[test]
    fn log_filter_is_levels_or_target_levels() {
        assert_eq!(parse_log_filter(None).unwrap(), "info");
        assert_eq!(parse_log_filter(Some(" ")).unwrap(), "info");
        for good in ["warn", "DEBUG", "info,mcp_conductor=debug", "rmcp=off,upstream=trace", "off"] {
            assert_eq!(parse_log_filter(Some(good)).unwrap(), good);
        }
        for bad in ["warning", "verbose", "info,mcp_conductor=loud", "mcp_conductor"] {
            let e = parse_log_filter(Some(bad)).unwrap_err().0;
            assert!(e.starts_with("MCP_CONDUCTOR_LOG: ") && e.contains("is not a level"), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_DEFAULT_TIMEOUT", "soon")]).unwrap_err();
        assert!(e.0.contains("MCP_CONDUCTOR_DEFAULT_TIMEOUT"), "{e}");
        let e = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_MAX_TIMEOUT", "0")]).unwrap_err();
        assert!(e.0.contains("MCP_CONDUCTOR_MAX_TIMEOUT"), "{e}");
        let e = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_DEFAULT_TIMEOUT", "9"), ("MCP_CONDUCTOR_MAX_TIMEOUT", "5")])
            .unwrap_err();
        assert!(e.0.contains("larger than"), "{e}");
        let c = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_MAX_TIMEOUT", "5000")]).unwrap();
        assert_eq!(c.default_timeout, Duration::from_millis(5000), "unset default follows the max");
        let e = config(&[("MCP_CONDUCTOR_WORKSPACE", "rel/dir")]).unwrap_err();
        assert!(e.0.contains("absolute"), "{e}");
        let e = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_MAX_MEMORY_MB", "8")]).unwrap_err();
        assert!(e.0.contains("MCP_CONDUCTOR_MAX_MEMORY_MB must be a whole number from 16"), "{e}");
        let e = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_POOL_SIZE", "-1")]).unwrap_err();
        assert!(e.0.contains("MCP_CONDUCTOR_POOL_SIZE"), "{e}");
        assert_eq!(config(&[("HOME", "/h"), ("MCP_CONDUCTOR_POOL_SIZE", "0")]).unwrap().pool_size, 0);
        let e = config(&[("HOME", "/h"), ("MCP_CONDUCTOR_RUN_ARGS", "allow-bogus")]).unwrap_err();
        assert!(e.0.contains("allow-bogus"), "{e}");
    }
}
