//! The typed contract between the glue's `state` global (`js/conductor.js`) and the store
//! behind a state handle (`src/state/`): one request enum, one reply type. Values cross as JSON
//! text; the store never interprets them.
//!
//! Self-contained (serde_json): `build.rs` includes this file with `glue.rs`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// One call of `state.get/set/delete/keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateRequest {
    Get { key: String },
    /// `json`: the value as `JSON.stringify` wrote it.
    Set { key: String, json: String },
    Delete { key: String },
    Keys,
}

impl StateRequest {
    /// The glue's `(action, key, json)`.
    pub fn decode(action: &str, key: String, json: String) -> Result<StateRequest, String> {
        match action {
            "get" => Ok(StateRequest::Get { key }),
            "set" => Ok(StateRequest::Set { key, json }),
            "delete" => Ok(StateRequest::Delete { key }),
            "keys" => Ok(StateRequest::Keys),
            other => Err(format!("unknown state action '{other}'")),
        }
    }
}

/// The reply, as JSON text: the value (`get`; `None` when the key is absent), whether a key
/// was there (`delete`), the keys (`keys`, an array), nothing (`set`). `Err`: the message the
/// code's error gets.
pub type StateReply = Pin<Box<dyn Future<Output = Result<Option<String>, String>> + Send>>;

/// The store behind one handle.
pub trait StateSlot: Send + Sync {
    fn request(&self, request: StateRequest) -> StateReply;
}

/// The execution's state handle: put into the op state with the job when the call named one.
pub struct JobState(pub Arc<dyn StateSlot>);
