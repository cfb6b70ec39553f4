//! `notifications/progress` for a `run_deno_code` call that carried a progress token: the code's
//! `progress()` calls, live while it runs, at most one every [`MIN_GAP`] (a faster caller's
//! intermediate values are replaced by newer ones), the last one always sent before the result.

use std::time::Duration;

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::{Peer, RoleServer};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::sandbox::{Progress, ProgressSink};

/// ~20 notifications per second per execution.
pub const MIN_GAP: Duration = Duration::from_millis(50);

enum Message {
    Update(Progress),
    /// The execution ended: send what is pending, then stop.
    Finish,
}

pub struct Forwarder {
    tx: mpsc::UnboundedSender<Message>,
    task: tokio::task::JoinHandle<()>,
}

impl Forwarder {
    pub fn start(peer: Peer<RoleServer>, token: ProgressToken) -> Forwarder {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(forward(peer, token, rx));
        Forwarder { tx, task }
    }

    /// What the execution calls (from its own thread).
    pub fn sink(&self) -> ProgressSink {
        let tx = self.tx.clone();
        std::sync::Arc::new(move |progress| {
            let _ = tx.send(Message::Update(progress));
        })
    }

    /// Sends the pending notification, if any, and waits until it is out (before the result).
    pub async fn finish(self) {
        let _ = self.tx.send(Message::Finish);
        let _ = tokio::time::timeout(Duration::from_secs(2), self.task).await;
    }
}

async fn forward(peer: Peer<RoleServer>, token: ProgressToken, mut rx: mpsc::UnboundedReceiver<Message>) {
    let mut pending: Option<Progress> = None;
    let mut last_sent: Option<Instant> = None;
    loop {
        let due = match (&pending, last_sent) {
            (Some(_), Some(at)) => Some(at + MIN_GAP),
            (Some(_), None) => Some(Instant::now()),
            (None, _) => None,
        };
        let message = match due {
            Some(due) => tokio::select! {
                message = rx.recv() => message,
                _ = tokio::time::sleep_until(due) => {
                    if let Some(progress) = pending.take() {
                        send(&peer, &token, progress).await;
                        last_sent = Some(Instant::now());
                    }
                    continue;
                }
            },
            None => rx.recv().await,
        };
        match message {
            Some(Message::Update(progress)) => pending = Some(progress),
            Some(Message::Finish) | None => {
                if let Some(progress) = pending.take() {
                    send(&peer, &token, progress).await;
                }
                return;
            }
        }
    }
}

async fn send(peer: &Peer<RoleServer>, token: &ProgressToken, progress: Progress) {
    let mut param = ProgressNotificationParam::new(token.clone(), progress.current);
    param.total = progress.total;
    param.message = progress.message;
    if let Err(e) = peer.notify_progress(param).await {
        tracing::debug!("progress notification not sent: {e}");
    }
}
