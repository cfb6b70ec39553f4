//! Server configuration from the environment (names compatible with the original product).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::proxy::{ConfigSource, ProxySettings};
use crate::run_args::{RunArgs, RunArgsError};

/// Every environment variable, as printed by `--help` (README has the same table).
pub const ENV_HELP: &str = "\
Environment:
  MCP_CONDUCTOR_WORKSPACE        Working directory of executions; created if missing, and the
                                 process's cwd. Default: ~/.mcp-conductor/workspace
  MCP_CONDUCTOR_ROOT             ROOT_DIR global. Default: the workspace's parent when the
                                 workspace dir is named `workspace`, else the workspace
  MCP_CONDUCTOR_RUN_ARGS         Sandbox permissions, Deno flags separated by , or ;
                                 e.g. allow-read=/data,allow-net=api.example.com
                                 Unset or empty: no permissions at all. Never prompts.
  MCP_CONDUCTOR_DEFAULT_TIMEOUT  Execution timeout in ms when a call gives none.
                                 Default: 30000, or the maximum if that is lower
  MCP_CONDUCTOR_MAX_TIMEOUT      Largest timeout a call may ask for, in ms. Default: 300000
  MCP_CONDUCTOR_MAX_MEMORY_MB    Memory cap of one execution's JavaScript heap. Default: 256
  MCP_CONDUCTOR_MAX_OUTPUT_BYTES Captured stdout+stderr kept per execution; the rest is dropped
                                 and the result says truncated. Default: 1048576
  MCP_CONDUCTOR_MAX_RETURN_BYTES Largest return value sent inline; larger ones are written to a
                                 file in the workspace. Default: 1048576
  MCP_CONDUCTOR_MAX_CONCURRENCY  Executions running at once; more calls wait (the wait counts
                                 against their timeout). Default: 2 x CPUs
  MCP_CONDUCTOR_POOL_SIZE        Workers kept started ahead of calls (0: start on demand).
                                 Default: the number of CPUs
  MCP_CONDUCTOR_MCP_CONFIG       Upstream MCP servers for mcpFactory: a JSON file in the MCP
                                 clients' format {\"mcpServers\": {...}}. Also read from
                                 MCP_CONDUCTOR_PROXY_CONFIG. Default: ~/.mcp-conductor/mcp-config.json,
                                 else ~/.mcp-conductor/mcp.json. Re-read when it changes
  MCP_CONDUCTOR_MCP_CONNECT_TIMEOUT  Time for an upstream to start and answer initialize, in ms.
                                 Default: 15000
  MCP_CONDUCTOR_MCP_CALL_TIMEOUT Time for one upstream request (tools/list, tools/call), in ms;
                                 the execution's own timeout still applies. Default: 60000
  MCP_CONDUCTOR_LOG              Log filter for stderr (tracing syntax). Default: info";

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
}

/// Per-execution limits (hardening); each is reported in the result when hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_memory_bytes: usize,
    pub max_output_bytes: usize,
    pub max_return_bytes: usize,
    pub max_concurrency: usize,
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

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads the configuration through `get` (unset and empty are the same); touches no files.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let workspace = match get("MCP_CONDUCTOR_WORKSPACE") {
            Some(dir) => PathBuf::from(dir),
            None => {
                let home = get("HOME").ok_or_else(|| {
                    ConfigError("HOME is not set: set MCP_CONDUCTOR_WORKSPACE to the workspace directory".into())
                })?;
                Path::new(&home).join(".mcp-conductor").join("workspace")
            }
        };
        if !workspace.is_absolute() {
            return Err(ConfigError(format!(
                "MCP_CONDUCTOR_WORKSPACE must be an absolute path, got '{}'",
                workspace.display()
            )));
        }
        let root = match get("MCP_CONDUCTOR_ROOT") {
            Some(dir) => PathBuf::from(dir),
            None => default_root(&workspace),
        };
        let max_timeout = timeout_var(&get, "MCP_CONDUCTOR_MAX_TIMEOUT", MAX_TIMEOUT_MS)?;
        // An unset default follows a lowered maximum; an explicit one above it is a mistake.
        let implicit_default = Duration::from_millis(DEFAULT_TIMEOUT_MS).min(max_timeout);
        let default_timeout = timeout_var(&get, "MCP_CONDUCTOR_DEFAULT_TIMEOUT", implicit_default.as_millis() as u64)?;
        if default_timeout > max_timeout {
            return Err(ConfigError(format!(
                "MCP_CONDUCTOR_DEFAULT_TIMEOUT ({} ms) is larger than MCP_CONDUCTOR_MAX_TIMEOUT ({} ms)",
                default_timeout.as_millis(),
                max_timeout.as_millis()
            )));
        }
        let run_args = RunArgs::parse(&get("MCP_CONDUCTOR_RUN_ARGS").unwrap_or_default())?;
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let pool_size = count_var(&get, "MCP_CONDUCTOR_POOL_SIZE", cpus, 0..=64)?;
        let limits = Limits {
            max_memory_bytes: count_var(&get, "MCP_CONDUCTOR_MAX_MEMORY_MB", 256, 16..=65536)? << 20,
            max_output_bytes: count_var(&get, "MCP_CONDUCTOR_MAX_OUTPUT_BYTES", 1 << 20, 1..=1 << 30)?,
            max_return_bytes: count_var(&get, "MCP_CONDUCTOR_MAX_RETURN_BYTES", 1 << 20, 1..=1 << 30)?,
            max_concurrency: count_var(&get, "MCP_CONDUCTOR_MAX_CONCURRENCY", 2 * cpus, 1..=1024)?,
        };
        let proxy = ProxySettings {
            source: ConfigSource::from_lookup(&get),
            connect_timeout: timeout_var(&get, "MCP_CONDUCTOR_MCP_CONNECT_TIMEOUT", 15_000)?,
            call_timeout: timeout_var(&get, "MCP_CONDUCTOR_MCP_CALL_TIMEOUT", 60_000)?,
        };
        Ok(Config {
            proxy,
            pool_size,
            limits,
            playbooks_dir: root.join("playbooks"),
            workspace,
            root,
            run_args,
            default_timeout,
            max_timeout,
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
        if self.root == default_root(&self.workspace) {
            self.root = default_root(&canonical);
            self.playbooks_dir = self.root.join("playbooks");
        }
        self.workspace = canonical;
        Ok(())
    }
}

fn default_root(workspace: &Path) -> PathBuf {
    match (workspace.file_name(), workspace.parent()) {
        (Some(name), Some(parent)) if name == "workspace" => parent.to_path_buf(),
        _ => workspace.to_path_buf(),
    }
}

fn count_var(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ConfigError> {
    let Some(raw) = get(name) else {
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

fn timeout_var(get: &impl Fn(&str) -> Option<String>, name: &str, default: u64) -> Result<Duration, ConfigError> {
    let Some(raw) = get(name) else {
        return Ok(Duration::from_millis(default));
    };
    match raw.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(ConfigError(format!("{name} must be a positive whole number of milliseconds, got '{raw}'"))),
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
    }

    #[test]
    fn root_rules() {
        let c = config(&[("MCP_CONDUCTOR_WORKSPACE", "/srv/ws")]).unwrap();
        assert_eq!(c.root, PathBuf::from("/srv/ws"));
        let c = config(&[("MCP_CONDUCTOR_WORKSPACE", "/srv/ws"), ("MCP_CONDUCTOR_ROOT", "/r")]).unwrap();
        assert_eq!(c.playbooks_dir, PathBuf::from("/r/playbooks"));
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
