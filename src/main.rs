use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
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
    version = mcp_conductor::VERSION,
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
    /// Serve MCP over streamable HTTP at /mcp (plus /health and /ready).
    #[command(alias = "streamable-http")]
    Http(HttpFlags),
    /// GET /health of the local HTTP server (same host/port settings); exit 0 when it answers.
    Healthcheck(HttpFlags),
    /// The npm packages code may import (in MCP_CONDUCTOR_PACKAGES_DIR), installed with npm.
    #[command(subcommand)]
    Packages(PackagesCommand),
    /// Check the setup: settings in effect, directories, upstream servers (connected), packages,
    /// import map, and one real execution; exit 1 when something is wrong.
    #[command(alias = "check")]
    Doctor,
}

#[derive(Subcommand)]
enum PackagesCommand {
    /// Install packages (npm names or ranges: zod, zod@^3.23, jsr:@std/path); install scripts never run.
    Add {
        #[arg(required = true)]
        packages: Vec<String>,
    },
    /// List the packages code may import, with the installed versions.
    List,
    /// Uninstall packages.
    Remove {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

/// Override MCP_CONDUCTOR_HTTP_HOST / _PORT / _STATELESS.
#[derive(Args, Clone, Default)]
struct HttpFlags {
    #[arg(long)]
    host: Option<String>,
    #[arg(long, short = 'p')]
    port: Option<u16>,
    /// No sessions for clients up to protocol 2025-11-25 either (replicas behind a load balancer).
    #[arg(long)]
    stateless: bool,
}

fn main() -> ExitCode {
    // First, while no other thread exists: secrets (the token, the collector's headers) must not
    // stay in the environment.
    mcp_conductor::secret_env::take_from_env();
    // deno_io makes every worker treat the descriptors this lists as its own (adoptable by
    // node:net/tty): none of the server's are.
    // SAFETY: no other thread exists yet.
    unsafe { std::env::remove_var("DENO_EXTRA_STDIO_FDS") };
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Stdio) {
        Command::Stdio => serve(None),
        Command::Http(flags) => serve(Some(flags)),
        Command::Healthcheck(flags) => return healthcheck(flags),
        Command::Packages(command) => packages(command),
        Command::Doctor => {
            return if mcp_conductor::doctor::run() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-conductor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn healthcheck(flags: HttpFlags) -> ExitCode {
    let mut config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("mcp-conductor: {e}");
            return ExitCode::FAILURE;
        }
    };
    apply(&mut config, &flags);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    if runtime.block_on(mcp_conductor::http::healthcheck(&config.http)) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn packages(command: PackagesCommand) -> Result<(), Box<dyn std::error::Error>> {
    use mcp_conductor::packages::install;
    let config = Config::from_env()?;
    let settings = &config.packages;
    let dir = &settings.dir;
    match command {
        PackagesCommand::Add { packages } => {
            install::add(dir, &install::parse_all(&packages)?, settings.timeout)?;
            eprintln!("mcp-conductor: installed into {}; running servers pick them up at their next execution", dir.display());
            print_list(dir)
        }
        PackagesCommand::Remove { names } => {
            install::remove(dir, &names, settings.timeout)?;
            print_list(dir)
        }
        PackagesCommand::List => print_list(dir),
    }
}

/// `packages list`'s output (stdout: this is not the server).
fn print_list(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let listed = mcp_conductor::packages::install::list(dir)?;
    if listed.is_empty() {
        println!("no packages in {} (add one: mcp-conductor packages add <name>)", dir.display());
    }
    for p in listed {
        let installed = p.installed.as_deref().unwrap_or("NOT INSTALLED (run npm install there)");
        println!("{}\t{}\t{}", p.name, p.range, installed);
    }
    Ok(())
}

fn apply(config: &mut Config, flags: &HttpFlags) {
    if let Some(host) = &flags.host {
        config.http.host = host.clone();
    }
    if let Some(port) = flags.port {
        config.http.port = port;
    }
    config.http.stateless |= flags.stateless;
}

/// stdio (`http` is `None`) or HTTP: the same server, two transports.
fn serve(http: Option<HttpFlags>) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::IsTerminal;
    // Someone typing, not a client: say what this is once the server is ready.
    let in_a_terminal = http.is_none() && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    // First, before anything can print: stdout belongs to JSON-RPC alone (over HTTP it stays
    // silent), and no code or child process may read the real stdin.
    let transport = stdio::isolate_process_stdio()?;
    init_logging(mcp_conductor::config::log_format_from_env()?, &mcp_conductor::config::log_filter_from_env()?);

    let mut config = Config::from_env()?;
    // Before anything starts a thread (see `engine::init`), and once the memory cap is known.
    engine::init(config.limits.max_memory_bytes);
    // After engine::init: the span exporter runs on a thread of its own.
    mcp_conductor::telemetry::init()?;
    if let Some(flags) = &http {
        apply(&mut config, flags);
        mcp_conductor::http::check_exposure(&config.http)?;
    }
    config.prepare_workspace()?;
    // What would only fail at run time (a named file missing, a broken upstream config) stops
    // the start; the rest is logged.
    let findings = mcp_conductor::checks::run(&config);
    let errors: Vec<&str> = findings
        .iter()
        .filter(|f| f.severity == mcp_conductor::checks::Severity::Error)
        .map(|f| f.message.as_str())
        .collect();
    if !errors.is_empty() {
        return Err(errors.join("\nmcp-conductor: ").into());
    }
    for finding in &findings {
        tracing::warn!("{}", finding.message);
    }
    if !config.packages.install.is_empty() {
        // Before the server answers initialize: code may rely on them from the first call.
        let installed = mcp_conductor::packages::install::ensure(
            &config.packages.dir,
            &config.packages.install,
            config.packages.timeout,
        )
        .map_err(|e| format!("MCP_CONDUCTOR_PACKAGES: {e}"))?;
        if !installed.is_empty() {
            tracing::info!(?installed, "installed packages into {}", config.packages.dir.display());
        }
    }
    mcp_conductor::enter_workspace(&config)?;
    match mcp_conductor::playbooks::defaults::install(&config.playbooks_dir) {
        Ok(installed) if !installed.is_empty() => {
            tracing::info!(?installed, "installed default playbooks into {}", config.playbooks_dir.display())
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot install default playbooks into {}: {e}", config.playbooks_dir.display()),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // HTTP: listen before the sandbox is built, whose permissions deny code every form of the
    // address (the port `--port 0` picks included), whatever allow-net says.
    let listener = match &http {
        Some(_) => {
            let listener = runtime.block_on(mcp_conductor::http::bind(&config.http))?;
            config.http.listening = Some(listener.local_addr()?);
            Some(listener)
        }
        None => None,
    };
    let proxy = Arc::new(ProxyManager::new(config.proxy.clone()));
    let host = Arc::new(ProxyHost::new(proxy.clone(), runtime.handle().clone()));
    let sandbox = build_sandbox(&config, Some(host))?;
    let flags = config.run_args.flags();
    let playbooks = mcp_conductor::playbooks::Store::new(config.playbooks_dir.clone());
    let metrics = Arc::new(mcp_conductor::metrics::Metrics::new());
    let server = Conductor::new(
        sandbox.clone(),
        proxy,
        playbooks,
        config.default_timeout,
        config.max_timeout,
        &flags,
        metrics.clone(),
        mcp_conductor::state::StateStore::new(config.state.clone()),
        config.task_ttl,
        config.task_max,
    );
    tracing::info!(
        engine = engine::NAME,
        workspace = %config.workspace.display(),
        permissions = ?flags,
        "mcp-conductor {} ready",
        mcp_conductor::VERSION
    );
    if in_a_terminal {
        eprintln!(
            "\nmcp-conductor is an MCP server: it now waits for an MCP client's JSON-RPC on stdin. Start it from a \
             client instead (README: \"Client configs\"), try it with\n  npx @modelcontextprotocol/inspector {}\n\
             or check the setup with `{} doctor`. Ctrl-C ends it.",
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "mcp-conductor".into()),
            std::env::args().next().unwrap_or_else(|| "mcp-conductor".into()),
        );
    }
    let served = match listener {
        None => runtime.block_on(serve_stdio(server, transport)),
        Some(listener) => {
            drop(transport);
            runtime.block_on(mcp_conductor::http::serve(listener, config.http, server, sandbox, metrics, config.log_format))
        }
    };
    // Dropping the runtime's tasks closes upstream connections (their processes are killed);
    // abandoned execution threads must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    mcp_conductor::telemetry::shutdown();
    served
}

async fn serve_stdio(server: Conductor, transport: stdio::Transport) -> Result<(), Box<dyn std::error::Error>> {
    let io = (tokio::fs::File::from_std(transport.input), tokio::fs::File::from_std(transport.output));
    let service = server.serve(io).await?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        quit = service.waiting() => { quit?; }
        _ = sigterm.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
    Ok(())
}

fn init_logging(format: mcp_conductor::config::LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::new(filter);
    // rmcp's debug logs carry request bodies (code, globals, tokens in headers): never shown,
    // whatever the filter asks for (a filter at info or below is left as it is).
    let verbose = filter.max_level_hint().is_none_or(|max| max > tracing_subscriber::filter::LevelFilter::INFO);
    let filter = if verbose { filter.add_directive("rmcp=info".parse().expect("valid directive")) } else { filter };
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(false).with_env_filter(filter);
    match format {
        mcp_conductor::config::LogFormat::Text => builder.init(),
        mcp_conductor::config::LogFormat::Json => builder.json().init(),
    }
}
