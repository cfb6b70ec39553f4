//! Printed lines as MCP logging notifications (`notifications/message`, logger `run_deno_code`,
//! level `info` for stdout and `warning` for stderr), live while the code runs, for clients that
//! opted in: `logging/setLevel` (sessions up to protocol 2025-11-25) or the per-request
//! `_meta["io.modelcontextprotocol/logLevel"]` (protocol 2026-07-28). MCP logging is deprecated
//! (SEP-2577) but works during the deprecation window; `progress()` is the primary live channel.
#![allow(deprecated)]

use std::sync::Mutex;

use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam, RequestMetaObject};
use rmcp::{Peer, RoleServer};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::sandbox::{LineSink, Stream};

/// The level a session asked for with `logging/setLevel`. A clone is a new session (the HTTP
/// transport clones the server per session), so it starts unset.
#[derive(Default)]
pub struct SessionLevel(Mutex<Option<LoggingLevel>>);

impl Clone for SessionLevel {
    fn clone(&self) -> Self {
        SessionLevel::default()
    }
}

impl SessionLevel {
    pub fn set(&self, level: LoggingLevel) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(level);
    }

    /// The request's level, else the session's; `None`: no logging notifications.
    pub fn for_request(&self, meta: &RequestMetaObject) -> Option<LoggingLevel> {
        meta.log_level().or(*self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

enum Message {
    Line(LoggingLevel, String),
    Finish,
}

pub struct Forwarder {
    tx: mpsc::UnboundedSender<Message>,
    task: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    pub fn start(peer: Peer<RoleServer>) -> Forwarder {
        let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
        let task = tokio::spawn(async move {
            while let Some(Message::Line(level, line)) = rx.recv().await {
                let mut param = LoggingMessageNotificationParam::new(level, Value::String(line));
                param.logger = Some("run_deno_code".into());
                if let Err(e) = peer.notify_logging_message(param).await {
                    tracing::debug!("logging notification not sent: {e}");
                }
            }
        });
        Forwarder { tx, task }
    }

    /// Lines at or above `minimum` (stdout is `info`, stderr `warning`).
    pub fn sink(&self, minimum: LoggingLevel) -> LineSink {
        let tx = self.tx.clone();
        std::sync::Arc::new(move |stream, line: &str| {
            let level = match stream {
                Stream::Stdout => LoggingLevel::Info,
                Stream::Stderr => LoggingLevel::Warning,
            };
            if rank(level) >= rank(minimum) {
                let _ = tx.send(Message::Line(level, line.to_string()));
            }
        })
    }

    /// Every line captured so far is sent before the result.
    pub async fn finish(self) {
        let _ = self.tx.send(Message::Finish);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), self.task).await;
    }
}
