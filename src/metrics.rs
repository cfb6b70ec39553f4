//! Counters for `/metrics` (Prometheus text format, `mcp-conductor http`): HTTP requests, tool
//! calls, executions and their durations, auth failures; gauges (in-flight executions, abandoned
//! threads, sessions, pool size) are sampled when scraped; `mcp_conductor_build_info` says which
//! build answers, and the standard `process_*` figures (from /proc, unprefixed as every Prometheus
//! client library writes them) how the process is doing. Labels never carry code, globals,
//! tokens or session ids.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::sandbox::Outcome;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    tool: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExecutionLabels {
    status: &'static str,
    error_type: String,
}

/// Sampled when `/metrics` is scraped.
pub struct Gauges {
    pub in_flight: usize,
    pub abandoned: usize,
    pub sessions: usize,
    pub pool_size: usize,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    tool_calls: Family<ToolLabels, Counter>,
    executions: Family<ExecutionLabels, Counter>,
    duration: Histogram,
    auth_failures: Counter,
    in_flight: Gauge,
    abandoned: Gauge,
    sessions: Gauge,
    pool_size: Gauge,
    /// Unprefixed: `process_*`.
    process_registry: Registry,
    process: ProcessMetrics,
}

#[derive(Default)]
struct ProcessMetrics {
    cpu_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    resident_memory: Gauge,
    virtual_memory: Gauge,
    open_fds: Gauge,
    max_fds: Gauge,
    threads: Gauge,
    start_time: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("mcp_conductor");
        let requests = Family::<RequestLabels, Counter>::default();
        let tool_calls = Family::<ToolLabels, Counter>::default();
        let executions = Family::<ExecutionLabels, Counter>::default();
        // 1 ms .. ~65 s.
        let duration = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        let (auth_failures, in_flight, abandoned, sessions, pool_size) =
            (Counter::default(), Gauge::default(), Gauge::default(), Gauge::default(), Gauge::default());
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        registry.register("tool_calls", "Tool calls by tool and outcome (ok, error, invalid)", tool_calls.clone());
        registry.register("executions", "Executions by status and errorType", executions.clone());
        registry.register("execution_duration_seconds", "Wall time of executions", duration.clone());
        registry.register("auth_failures", "Requests refused for a missing or wrong bearer token", auth_failures.clone());
        registry.register("executions_in_flight", "Executions waiting for a slot or running", in_flight.clone());
        registry.register("abandoned_threads", "Execution threads stuck in a blocking call", abandoned.clone());
        registry.register("sessions", "Open MCP sessions", sessions.clone());
        registry.register("pool_size", "Workers kept started ahead of calls", pool_size.clone());
        let commit = crate::COMMIT.to_string();
        registry.register(
            "build",
            "The build answering: version, engine, V8 version, commit",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION").to_string()),
                ("engine", crate::engine::NAME.to_string()),
                ("v8", deno_core::v8::VERSION_STRING.to_string()),
                ("commit", commit),
            ]),
        );
        let mut process_registry = Registry::default();
        let process = ProcessMetrics::default();
        process_registry.register("process_cpu_seconds", "User and system CPU time spent", process.cpu_seconds.clone());
        for (name, help, gauge) in [
            ("process_resident_memory", "Resident memory size", &process.resident_memory),
            ("process_virtual_memory", "Virtual memory size", &process.virtual_memory),
        ] {
            process_registry.register_with_unit(name, help, prometheus_client::registry::Unit::Bytes, gauge.clone());
        }
        process_registry.register("process_open_fds", "Open file descriptors", process.open_fds.clone());
        process_registry.register("process_max_fds", "Maximum number of open file descriptors", process.max_fds.clone());
        process_registry.register("process_threads", "OS threads", process.threads.clone());
        process_registry.register_with_unit(
            "process_start_time",
            "Start time of the process since the Unix epoch",
            prometheus_client::registry::Unit::Seconds,
            process.start_time.clone(),
        );
        Metrics {
            registry,
            requests,
            tool_calls,
            executions,
            duration,
            auth_failures,
            in_flight,
            abandoned,
            sessions,
            pool_size,
            process_registry,
            process,
        }
    }

    pub fn request(&self, route: &str, status: u16) {
        self.requests.get_or_create(&RequestLabels { route: route.to_string(), status }).inc();
    }

    pub fn tool_call(&self, tool: &str, outcome: &'static str) {
        self.tool_calls.get_or_create(&ToolLabels { tool: tool.to_string(), outcome }).inc();
    }

    pub fn execution(&self, outcome: &Outcome) {
        let (status, error_type) = match &outcome.result {
            Ok(_) => ("success", String::new()),
            Err(failure) => ("error", failure.error_type.name()),
        };
        self.executions.get_or_create(&ExecutionLabels { status, error_type }).inc();
        self.duration.observe(outcome.execution_time_ms / 1000.0);
    }

    pub fn auth_failure(&self) {
        self.auth_failures.inc();
    }

    /// The text exposition, with the gauges set to `gauges`.
    pub fn render(&self, gauges: Gauges) -> String {
        self.in_flight.set(gauges.in_flight as i64);
        self.abandoned.set(gauges.abandoned as i64);
        self.sessions.set(gauges.sessions as i64);
        self.pool_size.set(gauges.pool_size as i64);
        self.sample_process();
        let mut out = String::new();
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        encode_registry(&mut out, &self.registry).expect("writing to a String");
        encode_registry(&mut out, &self.process_registry).expect("writing to a String");
        encode_eof(&mut out).expect("writing to a String");
        out
    }

    /// The `process_*` figures, from /proc/self (left as they were when a file cannot be read).
    fn sample_process(&self) {
        let Some(stat) = ProcStat::read() else { return };
        let page = page_size();
        let ticks = clock_ticks();
        let cpu = (stat.utime + stat.stime) as f64 / ticks;
        let counted = self.process.cpu_seconds.get();
        if cpu > counted {
            self.process.cpu_seconds.inc_by(cpu - counted);
        }
        self.process.resident_memory.set((stat.rss_pages * page) as i64);
        self.process.virtual_memory.set(stat.vsize as i64);
        self.process.threads.set(stat.threads as i64);
        if let Some(boot) = boot_time() {
            self.process.start_time.set(boot as f64 + stat.start_ticks as f64 / ticks);
        }
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            self.process.open_fds.set(fds.count() as i64);
        }
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes the struct we pass.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            self.process.max_fds.set(limit.rlim_cur.min(i64::MAX as u64) as i64);
        }
    }
}

/// The fields of /proc/self/stat the `process_*` metrics use.
struct ProcStat {
    utime: u64,
    stime: u64,
    threads: u64,
    start_ticks: u64,
    vsize: u64,
    rss_pages: u64,
}

impl ProcStat {
    fn read() -> Option<ProcStat> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
        let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
        // `fields[0]` is field 3 (state): field n is fields[n - 3].
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        Some(ProcStat {
            utime: field(14)?,
            stime: field(15)?,
            threads: field(20)?,
            start_ticks: field(22)?,
            vsize: field(23)?,
            rss_pages: field(24)?,
        })
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).max(1) as u64
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as f64
}

/// Seconds since the epoch at boot (`btime` in /proc/stat).
fn boot_time() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    text.lines().find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_info_and_process_figures_are_exposed() {
        let text = Metrics::new().render(Gauges { in_flight: 0, abandoned: 0, sessions: 0, pool_size: 2 });
        let value = |name: &str| -> f64 {
            let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in\n{text}"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        let info = text.lines().find(|l| l.starts_with("mcp_conductor_build_info{")).expect("build_info");
        assert!(info.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))) && info.contains("engine=\"v8\""), "{info}");
        assert!(info.ends_with(" 1"), "{info}");
        assert!(value("process_resident_memory_bytes ") > 1e6);
        assert!(value("process_open_fds ") >= 3.0);
        assert!(value("process_threads ") >= 1.0);
        let started = value("process_start_time_seconds ");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        assert!(started > now - 3600.0 && started <= now + 1.0, "start {started}, now {now}");
        assert!(value("process_cpu_seconds_total ") >= 0.0);
        assert_eq!(text.matches("# EOF").count(), 1);
        assert!(text.trim_end().ends_with("# EOF"));
    }
}
