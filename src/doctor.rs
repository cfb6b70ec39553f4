//! `mcp-conductor doctor`: what the server would run with, and whether it works. Prints the
//! effective settings, the startup checks ([`crate::checks`]), what each upstream server
//! answers, and the result of one real execution; exits non-zero when anything is an error.
//! Output goes to stdout (this is not the server); nothing is written but what the server itself
//! would create at startup (the workspace and results directories).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::checks::{self, Severity};
use crate::config::{Config, ENV_VARS};
use crate::proxy::ProxyManager;
use crate::sandbox::{ClientId, ExecRequest};

/// Findings collected as the doctor goes; printed as they come.
#[derive(Default)]
struct Report {
    errors: usize,
    warnings: usize,
}

impl Report {
    fn ok(&mut self, what: &str) {
        println!("  ok       {what}");
    }

    fn warn(&mut self, what: &str) {
        self.warnings += 1;
        println!("  WARNING  {what}");
    }

    fn error(&mut self, what: &str) {
        self.errors += 1;
        println!("  ERROR    {what}");
    }
}

/// Runs every check; `true` when there is no error. Call it before anything starts a thread
/// (it initializes V8, see [`crate::engine::init`]).
pub fn run() -> bool {
    let mut report = Report::default();
    println!("{}", crate::version_line());
    println!("\nEnvironment (variables set for this process; --help lists them all):");
    print_set_variables();

    println!("\nChecks:");
    for (name, parsed) in [
        ("MCP_CONDUCTOR_LOG", crate::config::log_filter_from_env().map(|_| ())),
        ("MCP_CONDUCTOR_LOG_FORMAT", crate::config::log_format_from_env().map(|_| ())),
    ] {
        match parsed {
            Ok(()) => report.ok(&format!("{name} parses")),
            Err(e) => report.error(&e.to_string()),
        }
    }
    let mut config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            report.error(&e.to_string());
            return summary(&report);
        }
    };
    report.ok("every MCP_CONDUCTOR_* variable parses");
    match crate::telemetry::requested(|name| std::env::var(name).ok()) {
        Ok(true) => report.ok("OpenTelemetry: traces are exported (OTEL_EXPORTER_OTLP_* set)"),
        Ok(false) => report.ok("OpenTelemetry: traces off (no OTEL_EXPORTER_OTLP_ENDPOINT)"),
        Err(e) => report.error(&e),
    }
    if let Some(path) = &config.egress {
        match crate::egress::load(path) {
            Ok(policy) => {
                let rules: Vec<String> = policy.rules.iter().map(|r| r.summary()).collect();
                report.ok(&format!("egress policy {}: {} rule(s): {}", path.display(), rules.len(), rules.join("; ")));
            }
            Err(e) => report.error(&e),
        }
    }
    // Before any thread exists (the async runtime below starts some): see `engine::init`.
    crate::engine::init(config.limits.max_memory_bytes);
    if let Err(e) = config.prepare_workspace() {
        report.error(&e.to_string());
        return summary(&report);
    }
    report.ok("workspace, playbooks and results directories are usable and apart");
    if let Err(e) = crate::http::check_exposure(&config.http) {
        report.warn(&format!("`mcp-conductor http` would refuse to start: {e}"));
    }
    let findings = checks::run(&config);
    for finding in &findings {
        match finding.severity {
            Severity::Error => report.error(&finding.message),
            Severity::Warning => report.warn(&finding.message),
        }
    }
    if findings.is_empty() {
        report.ok("upstream config, import map and packages directory");
    }
    npm(&mut report, &config);

    println!("\nSettings in effect:");
    print_settings(&config);

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            report.error(&format!("cannot start the async runtime: {e}"));
            return summary(&report);
        }
    };
    println!("\nUpstream MCP servers (connected now, as mcpFactory would):");
    runtime.block_on(upstreams(&mut report, &config));
    println!("\nSandbox:");
    execution(&mut report, &config, &runtime);
    runtime.shutdown_timeout(Duration::from_millis(100));
    summary(&report)
}

fn summary(report: &Report) -> bool {
    println!(
        "\ndoctor: {} error{}, {} warning{}",
        report.errors,
        if report.errors == 1 { "" } else { "s" },
        report.warnings,
        if report.warnings == 1 { "" } else { "s" }
    );
    report.errors == 0
}

/// The variables of [`ENV_VARS`] that are set, values shown except secrets.
fn print_set_variables() {
    let mut any = false;
    for var in ENV_VARS {
        for name in var.names() {
            if let Ok(value) = std::env::var(name) {
                any = true;
                let secret = (name.contains("TOKEN") && !name.ends_with("_FILE")) || name.contains("HEADERS");
                let shown = if secret { "(set, not shown)".into() } else { value };
                println!("  {name}={shown}");
            }
        }
    }
    if !any {
        println!("  none: every setting is its default");
    }
}

fn print_settings(config: &Config) {
    let mut text = String::new();
    let mut row = |what: &str, value: String| {
        let _ = writeln!(text, "  {what:<18} {value}");
    };
    let flags = config.run_args.flags();
    row("permissions", if flags.is_empty() { "none (MCP_CONDUCTOR_RUN_ARGS unset)".into() } else { flags.join(" ") });
    row("workspace", config.workspace.display().to_string());
    row("root", config.root.display().to_string());
    row("playbooks", config.playbooks_dir.display().to_string());
    row("results", config.results.dir.display().to_string());
    row("packages", config.packages.dir.display().to_string());
    row("upstream config", config.proxy.source.describe());
    row(
        "timeouts",
        format!("default {} ms, maximum {} ms", config.default_timeout.as_millis(), config.max_timeout.as_millis()),
    );
    row("memory cap", format!("{} MB per execution", config.limits.max_memory_bytes >> 20));
    row("concurrency", format!("{} executions, {} pre-started workers", config.limits.max_concurrency, config.pool_size));
    row("http", format!("{}:{} (for `mcp-conductor http`)", config.http.host, config.http.port));
    print!("{text}");
}

fn npm(report: &mut Report, config: &Config) {
    match std::process::Command::new("npm").arg("--version").output() {
        Ok(out) if out.status.success() => {
            report.ok(&format!("npm {} (for `mcp-conductor packages add`)", String::from_utf8_lossy(&out.stdout).trim()))
        }
        _ if !config.packages.install.is_empty() => {
            report.error("MCP_CONDUCTOR_PACKAGES is set but npm is not on PATH: install npm (e.g. apt-get install npm)")
        }
        _ => report.warn("npm is not on PATH: `mcp-conductor packages add` needs it (e.g. apt-get install npm)"),
    }
}

async fn upstreams(report: &mut Report, config: &Config) {
    let manager = ProxyManager::new(config.proxy.clone());
    let view = manager.config_view();
    if view.file_error.is_some() {
        report.error("not connected: the config file is unusable (above)");
        return;
    }
    let statuses = manager.statuses().await;
    if statuses.is_empty() {
        println!("  none configured (looked at {})", view.described);
    }
    for status in statuses {
        match (&status.error, &status.tools) {
            (None, Some(tools)) => {
                let names: Vec<&str> = tools.iter().take(8).map(|t| t.name.as_ref()).collect();
                let more = if tools.len() > names.len() { ", ..." } else { "" };
                report.ok(&format!("{}: {} tools ({}{more})", status.name, tools.len(), names.join(", ")))
            }
            (Some(error), _) => report.error(&format!("{}: {error}", status.name)),
            (None, None) => report.warn(&format!("{}: {}", status.name, status.status)),
        }
    }
}

/// One real execution in a fresh worker, with the configured permissions.
fn execution(report: &mut Report, config: &Config, runtime: &tokio::runtime::Runtime) {
    if let Err(e) = crate::enter_workspace(config) {
        report.error(&e);
        return;
    }
    let mut config = config.clone();
    config.pool_size = 0;
    let sandbox = match crate::build_sandbox(&config, None) {
        Ok(sandbox) => sandbox,
        Err(e) => {
            report.error(&format!("cannot build the sandbox: {e}"));
            return;
        }
    };
    let request = ExecRequest {
        code: "const n: number = [1, 2, 3].reduce((a, b) => a + b); `${n} ${new Intl.NumberFormat('en-US').format(1234.5)}`"
            .into(),
        timeout: Duration::from_secs(30),
        globals: Default::default(),
        progress: None,
        lines: None,
        client: ClientId::stdio(),
        trace: None,
        state: None,
    };
    let started = Instant::now();
    let outcome = runtime.block_on(sandbox.execute(request, Default::default()));
    match outcome.result {
        Ok(value) if value == "6 1,234.5" => report.ok(&format!(
            "TypeScript ran in a fresh {} worker: {value} ({:.1} ms)",
            crate::engine::NAME,
            started.elapsed().as_secs_f64() * 1000.0
        )),
        Ok(value) => report.error(&format!("a test execution returned {value}, expected \"6 1,234.5\"")),
        Err(failure) => report.error(&format!("a test execution failed: {}", failure.message)),
    }
}
