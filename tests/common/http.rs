//! The binary in HTTP mode (`mcp-conductor http` on a free loopback port), for the tests that
//! drive it with rmcp's streamable HTTP client.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

/// A server process in HTTP mode; killed on drop.
pub struct HttpServer {
    pub child: Child,
    /// `http://127.0.0.1:<port>/mcp`.
    pub url: String,
    /// The URL without `/mcp`.
    pub base: String,
    pub dir: tempfile::TempDir,
}

impl HttpServer {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> HttpServer {
        match HttpServer::try_start(args, env) {
            Ok(server) => server,
            Err(stderr) => panic!("the server did not start: {stderr}"),
        }
    }

    /// Starts the server; `Err(stderr)` when it exits instead of listening.
    pub fn try_start(args: &[&str], env: &[(&str, &str)]) -> Result<HttpServer, String> {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("workspace");
        std::fs::create_dir_all(&workspace).unwrap();
        let mut cmd = Command::new(super::BIN);
        cmd.arg("http")
            .args(["--port", "0"])
            .args(args)
            .env_clear()
            .env("HOME", dir.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("MCP_CONDUCTOR_WORKSPACE", &workspace)
            .env("MCP_CONDUCTOR_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v.replace("{dir}", &dir.path().display().to_string()));
        }
        let mut child = cmd.spawn().expect("spawn mcp-conductor http");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.wait();
                return Err(seen);
            }
            if let Some(url) = line.trim().strip_prefix("listening on ") {
                let url = url.to_string();
                let base = url.trim_end_matches("/mcp").to_string();
                // Keep draining stderr so the server never blocks on a full pipe.
                std::thread::spawn(move || for _ in stderr.lines() {});
                return Ok(HttpServer { child, url, base, dir });
            }
            seen.push_str(&line);
        }
    }

    pub async fn client(&self, token: Option<&str>) -> RunningService<RoleClient, ()> {
        let mut config = StreamableHttpClientTransportConfig::with_uri(self.url.as_str());
        if let Some(token) = token {
            config = config.auth_header(token);
        }
        ().serve(StreamableHttpClientTransport::from_config(config)).await.expect("initialize over HTTP")
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port in the URL")
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

