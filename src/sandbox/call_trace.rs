//! The trace of an execution's `mcpFactory` requests that reach upstream servers' data: tool
//! calls, resource reads and prompts (listing servers, tools, resources and prompts is not
//! traced). Every `run_deno_code` result lists them (`calls`): which server, what, how long,
//! whether it failed, so an agent sees what its code did to other systems without printing it.
//! A request still pending when the execution ended (a timeout, a cancel) is listed as
//! unfinished.
//!
//! Bounded: the first [`MAX_CALLS`] requests are listed; the rest are summed up per server and
//! name (how many, how many failed), so no request goes unseen behind many cheap ones, for up to
//! [`MAX_CALLS`] distinct names (beyond that only counted). Names and errors are cut at
//! [`MAX_TEXT`] characters: code chooses them, the result must stay small.
//!
//! Self-contained (serde_json, `crate::text`): `build.rs` includes this file with `glue.rs`.

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

/// Requests past the first [`MAX_CALLS`] of one server and name, summed up.
#[derive(Debug, Clone, PartialEq)]
pub struct OmittedCalls {
    pub kind: CallKind,
    pub server: String,
    pub name: String,
    pub count: usize,
    pub errors: usize,
}

/// The requests not listed: summed up per server and name, and how many past those.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Omitted {
    pub by_name: Vec<OmittedCalls>,
    pub others: usize,
}

/// The execution's trace; put into the op state with the job.
#[derive(Default)]
pub struct CallTrace {
    calls: Vec<Pending>,
    omitted: Omitted,
}

/// Which entry [`CallTrace::begin`] made, for [`CallTrace::end`].
#[derive(Debug, Clone, Copy)]
pub enum CallSlot {
    Listed(usize),
    Summed(usize),
}

impl CallTrace {
    /// Records the start of `request` when it is traced; `None` for an untraced request or one
    /// only counted.
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
            let (server, name) = (cut(server), cut(name));
            let by_name = &mut self.omitted.by_name;
            let at = match by_name.iter().position(|o| o.kind == kind && o.server == server && o.name == name) {
                Some(at) => at,
                None if by_name.len() < MAX_CALLS => {
                    by_name.push(OmittedCalls { kind, server, name, count: 0, errors: 0 });
                    by_name.len() - 1
                }
                None => {
                    self.omitted.others += 1;
                    return None;
                }
            };
            by_name[at].count += 1;
            return Some(CallSlot::Summed(at));
        }
        self.calls.push(Pending {
            kind,
            server: cut(server),
            name: cut(name),
            started: Instant::now(),
            ended: None,
        });
        Some(CallSlot::Listed(self.calls.len() - 1))
    }

    /// Records how the request in `slot` ended. A raw tool result (`callToolRaw`) that reports
    /// `isError` is an error though the request succeeded.
    pub fn end(&mut self, slot: CallSlot, reply: &Result<Value, HostError>) {
        let end = match reply {
            Err(error) => CallEnd::Error(cut(&error.message)),
            Ok(value) if value.get("isError") == Some(&Value::Bool(true)) => {
                CallEnd::Error("the tool reported an error (isError)".into())
            }
            Ok(_) => CallEnd::Ok,
        };
        match slot {
            CallSlot::Listed(at) => {
                if let Some(call) = self.calls.get_mut(at) {
                    call.ended = Some((call.started.elapsed(), end));
                }
            }
            CallSlot::Summed(at) => {
                if let (Some(summed), CallEnd::Error(_)) = (self.omitted.by_name.get_mut(at), &end) {
                    summed.errors += 1;
                }
            }
        }
    }

    /// The records, in the order the requests started, and those left out.
    pub fn finish(self) -> (Vec<CallRecord>, Omitted) {
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
    crate::text::cut_chars(text, MAX_TEXT)
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
        assert_eq!(omitted, Omitted::default());
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
        assert_eq!(records.len(), MAX_CALLS);
        assert_eq!(records[0].name.chars().count(), MAX_TEXT + 1, "cut, with the ellipsis");
        assert!(matches!(&records[0].end, CallEnd::Error(e) if e.ends_with('…')));
        assert_eq!((omitted.by_name.len(), omitted.by_name[0].count, omitted.by_name[0].errors), (1, 7, 7));
    }

    #[test]
    fn a_call_after_many_cheap_ones_is_still_seen() {
        let mut trace = CallTrace::default();
        for _ in 0..MAX_CALLS + 3 {
            let slot = trace.begin(&tool("echo")).unwrap();
            trace.end(slot, &Ok(json!("x")));
        }
        let slot = trace.begin(&tool("delete_everything")).unwrap();
        trace.end(slot, &Ok(json!("done")));
        for i in 0..MAX_CALLS + 5 {
            trace.begin(&tool(&format!("t{i}")));
        }
        let (_, omitted) = trace.finish();
        let names: Vec<(&str, usize)> = omitted.by_name.iter().take(2).map(|o| (o.name.as_str(), o.count)).collect();
        assert_eq!(names, [("echo", 3), ("delete_everything", 1)]);
        assert_eq!((omitted.by_name.len(), omitted.others), (MAX_CALLS, 7));
    }
}
