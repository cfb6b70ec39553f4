//! Counters for `/metrics` (Prometheus text format, `mcp-conductor http`): HTTP requests, tool
//! calls, executions and their durations, auth failures; gauges (in-flight executions, abandoned
//! threads, sessions, pool size) are sampled when scraped. Labels never carry code, globals,
//! tokens or session ids.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
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
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}
