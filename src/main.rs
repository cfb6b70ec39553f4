use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use mcp_conductor::config::{Config, env_help};
use mcp_conductor::proxy::{ProxyHost, ProxyManager};
use mcp_conductor::server::Conductor;
use mcp_conductor::{build_sandbox, engine, stdio};
use rmcp::ServiceExt;

#[cfg(target_os = "linux")]
mod allocator;

#[derive(Parser)]
#[command(
    name = "mcp-conductor",
    version,
    about = "MCP server that runs TypeScript/JavaScript in an in-process Deno sandbox",
    after_help = env_help()
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP over stdin/stdout (the default).
    Stdio,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Stdio) {
        Command::Stdio => match serve_stdio() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mcp-conductor: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn serve_stdio() -> Result<(), Box<dyn std::error::Error>> {
    // First, before anything can print: stdout belongs to JSON-RPC alone.
    let transport = stdio::isolate_process_stdio()?;
    init_logging();

    let mut config = Config::from_env()?;
    config.prepare_workspace()?;
    std::env::set_current_dir(&config.workspace)
        .map_err(|e| format!("cannot enter workspace '{}': {e}", config.workspace.display()))?;
    deno_runtime::colors::set_use_color(false);
    deno_permissions::prompter::set_prompter(Box::new(deno_permissions::prompter::DeniedPrompter));
    match mcp_conductor::playbooks::defaults::install(&config.playbooks_dir) {
        Ok(installed) if !installed.is_empty() => {
            tracing::info!(?installed, "installed default playbooks into {}", config.playbooks_dir.display())
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot install default playbooks into {}: {e}", config.playbooks_dir.display()),
    }
    engine::init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let proxy = Arc::new(ProxyManager::new(config.proxy.clone()));
    let host = Arc::new(ProxyHost::new(proxy.clone(), runtime.handle().clone()));
    let sandbox = build_sandbox(&config, Some(host))?;
    tracing::info!(
        engine = engine::NAME,
        workspace = %config.workspace.display(),
        permissions = ?config.run_args.flags(),
        "mcp-conductor {} ready on stdio",
        env!("CARGO_PKG_VERSION")
    );

    let flags = config.run_args.flags();
    let playbooks = mcp_conductor::playbooks::Store::new(config.playbooks_dir.clone());
    let server = Conductor::new(sandbox, proxy, playbooks, config.default_timeout, config.max_timeout, &flags);
    runtime.block_on(async move {
        let io = (tokio::fs::File::from_std(transport.input), tokio::fs::File::from_std(transport.output));
        let service = server.serve(io).await?;
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            quit = service.waiting() => { quit?; }
            _ = sigterm.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    // Dropping the runtime's tasks closes upstream connections (their processes are killed);
    // abandoned execution threads must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MCP_CONDUCTOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(filter)
        .init();
}
