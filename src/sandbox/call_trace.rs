//! The trace of an execution's `mcpFactory` requests that reach upstream servers' data: tool
//! calls, resource reads and prompts (listing servers, tools, resources and prompts is not
//! traced). Every `run_deno_code` result lists them (`calls`): which server, what, how long,
//! whether it failed, so an agent sees what its code did to other systems without printing it.
//! A request still pending when the execution ended (a timeout, a cancel) is listed as
//! unfinished.
//!
//! Bounded: [`MAX_CALLS`] entries (the rest only counted), names and errors cut at
//! [`MAX_TEXT`] characters: code chooses them, the result must stay small.
//!
//! Self-contained (serde_json): `build.rs` includes this file with `glue.rs`.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::host::{HostError, HostRequest};

/// The most requests one result lists.
pub const MAX_CALLS: usize = 100;

/// The longest name or error text kept, in characters.
pub const MAX_TEXT: usize = 200;

/// What a traced request touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Tool,
    Resource,
    Prompt,
}

/// How a traced request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEnd {
    Ok,
    /// The error the code's `Error` got, or that the tool reported (`isError`).
    Error(String),
    /// Still pending when the execution ended.
    Unfinished,
}

/// One traced request, as the result lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub kind: CallKind,
    pub server: String,
    /// The tool, the resource URI or the prompt name.
    pub name: String,
    pub duration: Duration,
    pub end: CallEnd,
}

struct Pending {
    kind: CallKind,
    server: String,
    name: String,
    started: Instant,
    ended: Option<(Duration, CallEnd)>,
}

/// The execution's trace; put into the op state with the job.
#[derive(Default)]
pub struct CallTrace {
    calls: Vec<Pending>,
    omitted: usize,
}

/// Which entry [`CallTrace::begin`] made, for [`CallTrace::end`].
#[derive(Debug, Clone, Copy)]
pub struct CallSlot(usize);

impl CallTrace {
    /// Records the start of `request` when it is traced; `None` for an untraced request or
    /// past [`MAX_CALLS`] (then only counted).
    pub fn begin(&mut self, request: &HostRequest) -> Option<CallSlot> {
        let (kind, server, name) = match request {
            HostRequest::CallTool { server, tool, .. } | HostRequest::CallToolRaw { server, tool, .. } => {
                (CallKind::Tool, server, tool)
            }
            HostRequest::ReadResource { server, uri } => (CallKind::Resource, server, uri),
            HostRequest::GetPrompt { server, name, .. } => (CallKind::Prompt, server, name),
            _ => return None,
        };
        if self.calls.len() >= MAX_CALLS {
            self.omitted += 1;
            return None;
        }
        self.calls.push(Pending {
            kind,
            server: cut(server),
            name: cut(name),
            started: Instant::now(),
            ended: None,
        });
        Some(CallSlot(self.calls.len() - 1))
    }

    /// Records how the request in `slot` ended. A raw tool result (`callToolRaw`) that reports
    /// `isError` is an error though the request succeeded.
    pub fn end(&mut self, slot: CallSlot, reply: &Result<Value, HostError>) {
        let Some(call) = self.calls.get_mut(slot.0) else { return };
        let end = match reply {
            Err(error) => CallEnd::Error(cut(&error.message)),
            Ok(value) if value.get("isError") == Some(&Value::Bool(true)) => {
                CallEnd::Error("the tool reported an error (isError)".into())
            }
            Ok(_) => CallEnd::Ok,
        };
        call.ended = Some((call.started.elapsed(), end));
    }

    /// The records, in the order the requests started, and how many were left out.
    pub fn finish(self) -> (Vec<CallRecord>, usize) {
        let records = self
            .calls
            .into_iter()
            .map(|call| {
                let (duration, end) = call.ended.unwrap_or_else(|| (call.started.elapsed(), CallEnd::Unfinished));
                CallRecord { kind: call.kind, server: call.server, name: call.name, duration, end }
            })
            .collect();
        (records, self.omitted)
    }
}

/// `text` cut at [`MAX_TEXT`] characters (an ellipsis marks the cut).
fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    fn tool(name: &str) -> HostRequest {
        HostRequest::CallTool { server: "s".into(), tool: name.into(), args: Map::new() }
    }

    #[test]
    fn upstream_data_is_traced_listings_are_not() {
        let mut trace = CallTrace::default();
        assert!(trace.begin(&HostRequest::ListServers {}).is_none());
        assert!(trace.begin(&HostRequest::ListTools { server: "s".into() }).is_none());
        let ok = trace.begin(&tool("echo")).unwrap();
        let failed = trace.begin(&HostRequest::ReadResource { server: "s".into(), uri: "memo://x".into() }).unwrap();
        let reported = trace
            .begin(&HostRequest::CallToolRaw { server: "s".into(), tool: "t".into(), args: Map::new() })
            .unwrap();
        let _pending = trace.begin(&HostRequest::GetPrompt { server: "s".into(), name: "p".into(), args: Map::new() });
        trace.end(ok, &Ok(json!({"text": "hi"})));
        trace.end(failed, &Err(HostError::new("no such resource")));
        trace.end(reported, &Ok(json!({"isError": true, "content": []})));
        let (records, omitted) = trace.finish();
        assert_eq!(omitted, 0);
        let ends: Vec<(CallKind, &str, &CallEnd)> = records.iter().map(|r| (r.kind, r.name.as_str(), &r.end)).collect();
        assert_eq!(
            ends,
            [
                (CallKind::Tool, "echo", &CallEnd::Ok),
                (CallKind::Resource, "memo://x", &CallEnd::Error("no such resource".into())),
                (CallKind::Tool, "t", &CallEnd::Error("the tool reported an error (isError)".into())),
                (CallKind::Prompt, "p", &CallEnd::Unfinished),
            ]
        );
    }

    #[test]
    fn bounded_in_count_and_text() {
        let mut trace = CallTrace::default();
        let long = "é".repeat(MAX_TEXT + 50);
        for _ in 0..MAX_CALLS + 7 {
            if let Some(slot) = trace.begin(&tool(&long)) {
                trace.end(slot, &Err(HostError::new(long.clone())));
            }
        }
        let (records, omitted) = trace.finish();
        assert_eq!((records.len(), omitted), (MAX_CALLS, 7));
        assert_eq!(records[0].name.chars().count(), MAX_TEXT + 1, "cut, with the ellipsis");
        assert!(matches!(&records[0].end, CallEnd::Error(e) if e.ends_with('…')));
    }
}
