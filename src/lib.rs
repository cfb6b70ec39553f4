//! mcp-conductor: an MCP server that runs LLM-written TypeScript/JavaScript in an in-process
//! Deno sandbox (a fresh `deno_runtime` `MainWorker` per execution).
//!
//! Modules, one concern each:
//! - [`config`]: environment → [`config::Config`]
//! - [`checks`]: the files and directories the configuration names, checked at startup
//! - [`doctor`]: `mcp-conductor doctor`
//! - [`run_args`]: the `MCP_CONDUCTOR_RUN_ARGS` permission grammar
//! - [`egress`]: the egress policy (hosts, methods, paths, credentials added by the server)
//! - [`engine`]: V8: platform setup, isolate parameters, the heap-limit policy
//! - [`sandbox`]: executions (worker, module loader, glue extension, output, results)
//! - [`proxy`]: upstream MCP servers for `mcpFactory`
//! - [`playbooks`]: reusable code + docs, `importPlaybook`
//! - [`packages`]: npm packages the administrator installed, the import map
//! - [`server`]: the MCP tools
//! - [`stdio`]: keeping the JSON-RPC stream away from everything else
//! - [`http`]: the streamable HTTP transport (`mcp-conductor http`)
//! - [`unique`]: file names unique across replicas sharing one ROOT
//! - [`file_stamp`]: whether a file changed since it was read (reloads)
//! - [`metrics`]: counters for `/metrics`

pub mod checks;
pub mod config;
pub mod doctor;
pub mod egress;
pub mod engine;
pub mod file_stamp;
pub mod http;
pub mod metrics;
pub mod packages;
pub mod playbooks;
pub mod proxy;
pub mod run_args;
pub mod sandbox;
pub mod secret_env;
pub mod server;
pub mod state;
pub mod stdio;
pub mod telemetry;
pub mod text;
pub mod unique;

use std::sync::Arc;

/// `--version`'s text: version, engine and commit (from build.rs).
pub const VERSION: &str = env!("MCP_CONDUCTOR_VERSION");

/// The commit the binary was built from (`unknown` without `.git` or `MCP_CONDUCTOR_BUILD_COMMIT`).
pub const COMMIT: &str = env!("MCP_CONDUCTOR_COMMIT");

/// The first line of `doctor` and of the log: the same as `--version`.
pub fn version_line() -> String {
    format!("mcp-conductor {VERSION}")
}

use serde_json::{Map, Value};

use crate::config::Config;
use crate::proxy::ConfigSource;
use crate::sandbox::{Host, contract, PermissionSet, ResultStore, Sandbox, SandboxConfig, ServerOwned};

/// Builds the sandbox from a prepared configuration (the workspace must exist and be the cwd,
/// since relative permission paths resolve against it). `host` answers `mcpFactory`.
pub fn build_sandbox(config: &Config, host: Option<Arc<dyn Host>>) -> Result<Sandbox, Box<dyn std::error::Error>> {
    let packages = Arc::new(packages::Packages::new(config.packages.dir.clone(), config.packages.import_map.clone()));
    let mut owned = server_owned(config, &packages);
    let egress = match &config.egress {
        Some(path) => {
            let egress = egress::Egress::new(path.clone(), &config.run_args, owned.clone())?;
            owned = egress.owned().clone();
            Some(Arc::new(egress))
        }
        None => None,
    };
    let permissions = PermissionSet::new(&config.run_args, &owned)?;
    let root_certs = sandbox::root_certs::build(&config.tls_ca_stores, config.tls_ca_file.as_deref())?;
    let path = |p: &std::path::Path| Value::String(p.display().to_string());
    let mut base_globals = Map::new();
    base_globals.insert(contract::WORKSPACE_DIR.into(), path(&config.workspace));
    base_globals.insert(contract::ROOT_DIR.into(), path(&config.root));
    base_globals.insert(contract::PLAYBOOKS_DIR.into(), path(&config.playbooks_dir));
    base_globals.insert(contract::PERMISSIONS.into(), config.run_args.flags().into());
    // Per execution when a policy is in force (`execution.rs`).
    base_globals.insert(contract::EGRESS.into(), Value::Null);
    let results = Arc::new(ResultStore::new(config.results.dir.clone(), config.results.ttl, config.results.max_bytes));
    results.start_sweeper();
    let sandbox_config = SandboxConfig {
        workspace: config.workspace.clone(),
        permissions,
        egress,
        no_remote: config.run_args.no_remote,
        base_globals,
        limits: config.limits,
        host,
        playbooks: playbooks::Store::new(config.playbooks_dir.clone()),
        packages,
        root_certs: Some(root_certs),
        results,
    };
    Ok(Sandbox::new(sandbox_config, config.pool_size))
}

/// Process-wide settings every execution relies on: the cwd is the workspace (relative paths and
/// permission paths resolve there), no colors in error text, and a permission prompt is always a
/// denial. Shared by the server's start and `doctor`.
pub fn enter_workspace(config: &Config) -> Result<(), String> {
    std::env::set_current_dir(&config.workspace)
        .map_err(|e| format!("cannot enter workspace '{}': {e}", config.workspace.display()))?;
    deno_runtime::colors::set_use_color(false);
    deno_permissions::prompter::set_prompter(Box::new(deno_permissions::prompter::DeniedPrompter));
    Ok(())
}

/// What code may never read or write, whatever `MCP_CONDUCTOR_RUN_ARGS` grants (docs/security.md,
/// "Server-owned files are never reachable"): the upstream MCP config (the server runs its `command`s; its `env` and
/// `headers` hold secrets) and the other config names next to it, the HTTP token file, the
/// large results of every client (`MCP_CONDUCTOR_RESULTS_DIR`), and the server's own `/proc`
/// entries (`environ`, `mem`...); the packages directory, the import map and the playbooks
/// directory (never writable: a playbook runs in other clients' executions; the packages
/// directory readable only below `node_modules`); and, over HTTP, the addresses the server
/// listens on (never reachable: code would call `/mcp` as a client of its own server).
pub fn server_owned(config: &Config, packages: &packages::Packages) -> ServerOwned {
    let mut owned = ServerOwned::default();
    owned.add_packages(&packages.dir, &packages.node_modules);
    owned.add_write_only(config.playbooks_dir.clone());
    owned.add(config.results.dir.clone());
    if let Some(listening) = config.http.listening {
        for address in crate::http::own_addresses(listening, &config.http.host) {
            owned.deny_net(address);
        }
    }
    if let Some(import_map) = packages.explicit_import_map() {
        owned.add_write_only(import_map);
    }
    let files = match &config.proxy.source {
        ConfigSource::Variable(_, path) => vec![path.clone()],
        ConfigSource::Files(files) => files.clone(),
    };
    for file in files {
        if let Some(dir) = file.parent() {
            for name in crate::proxy::CONFIG_FILE_NAMES {
                owned.add(dir.join(name));
            }
        }
        owned.add_with_projected_volume(file);
    }
    if let Some(token_file) = &config.http.token_file {
        owned.add_with_projected_volume(token_file);
    }
    owned.add("/proc/self");
    owned.add("/proc/thread-self");
    owned.add(format!("/proc/{}", std::process::id()));
    owned
}
