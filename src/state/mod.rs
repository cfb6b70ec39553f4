//! State handles: JSON values an agent keeps between `run_deno_code` calls while every worker
//! stays fresh. A call passes `"state": "new"` and gets a handle (`stateHandle` in the result);
//! later calls pass it back and their code reads and writes values through the `state` global
//! (`state.get/set/delete/keys`, `js/conductor.js`, over `sandbox/state_slot.rs`). Nothing else
//! survives a call.
//!
//! - A handle is minted by the server: `st_` and 244 random bits (two v4 UUIDs): never guessable,
//!   never derived from anything the client sent.
//! - Bound to its owner ([`StateOwner`]): the stdio client, the HTTP session that minted it, or,
//!   for stateless HTTP (no session exists), the holders of the server's bearer token. Passing
//!   another owner's handle is refused.
//! - Expires after `MCP_CONDUCTOR_STATE_TTL` without use; for as long again its expiry is
//!   remembered, so a late call is told it expired rather than that the handle is unknown.
//! - Bounded: `MCP_CONDUCTOR_STATE_MAX_BYTES` per handle (keys, JSON text and
//!   [`BYTES_PER_KEY`] per key), `MCP_CONDUCTOR_STATE_MAX_HANDLES` alive at once, of which
//!   `MCP_CONDUCTOR_STATE_MAX_HANDLES_PER_CLIENT` per owner.
//!
//! This store lives in the server's memory: replicas behind a load balancer do not share it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::sandbox::state_slot::{StateReply, StateRequest, StateSlot};

/// The `MCP_CONDUCTOR_STATE_*` settings.
#[derive(Debug, Clone)]
pub struct StateSettings {
    pub ttl: Duration,
    pub max_bytes: usize,
    pub max_handles: usize,
    /// Handles one owner may hold at once (so that one client cannot take them all).
    pub max_handles_per_client: usize,
}

/// What one key costs besides its text and its value's: the map's node and the strings' headers
/// (a handle of many tiny keys holds far more memory than their text).
pub const BYTES_PER_KEY: usize = 64;

/// Who may use a handle: the caller that minted it (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateOwner(pub String);

/// What a call asked for (`state` of run_deno_code): a new handle or an existing one.
pub fn is_new(requested: &str) -> bool {
    requested == "new"
}

struct Entry {
    owner: StateOwner,
    values: BTreeMap<String, String>,
    bytes: usize,
    last_used: Instant,
}

#[derive(Default)]
struct Handles {
    live: HashMap<String, Entry>,
    /// Handles that expired, and when: remembered for one more TTL.
    expired: HashMap<String, Instant>,
}

pub struct StateStore {
    settings: StateSettings,
    handles: Mutex<Handles>,
}

impl StateStore {
    pub fn new(settings: StateSettings) -> Arc<StateStore> {
        Arc::new(StateStore { settings, handles: Mutex::default() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Handles> {
        self.handles.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new, empty handle for `owner`.
    pub fn mint(self: &Arc<Self>, owner: &StateOwner) -> Result<(String, Arc<dyn StateSlot>), String> {
        let mut handles = self.lock();
        self.sweep(&mut handles, Instant::now());
        let own = handles.live.values().filter(|e| e.owner == *owner).count();
        if own >= self.settings.max_handles_per_client {
            return Err(format!(
                "no new state handle: this client holds {own}, the most MCP_CONDUCTOR_STATE_MAX_HANDLES_PER_CLIENT \
                 allows; reuse one (a handle keeps any number of keys), or wait until one has not been used for {} \
                 (MCP_CONDUCTOR_STATE_TTL)",
                human(self.settings.ttl)
            ));
        }
        if handles.live.len() >= self.settings.max_handles {
            return Err(format!(
                "no new state handle: {} are alive, the most MCP_CONDUCTOR_STATE_MAX_HANDLES allows; one frees \
                 when it has not been used for {} (MCP_CONDUCTOR_STATE_TTL)",
                handles.live.len(),
                human(self.settings.ttl)
            ));
        }
        let handle = format!("st_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let entry = Entry { owner: owner.clone(), values: BTreeMap::new(), bytes: 0, last_used: Instant::now() };
        handles.live.insert(handle.clone(), entry);
        Ok((handle.clone(), self.slot(handle, owner)))
    }

    /// The handle `handle` for `owner`, or why not (expired, another owner's, unknown).
    pub fn open(self: &Arc<Self>, handle: &str, owner: &StateOwner) -> Result<Arc<dyn StateSlot>, String> {
        let mut handles = self.lock();
        self.sweep(&mut handles, Instant::now());
        self.entry(&mut handles, handle, owner)?;
        Ok(self.slot(handle.to_string(), owner))
    }

    fn slot(self: &Arc<Self>, handle: String, owner: &StateOwner) -> Arc<dyn StateSlot> {
        Arc::new(Slot { store: self.clone(), handle, owner: owner.clone() })
    }

    /// The live entry of `handle` for `owner`, marked used.
    fn entry<'a>(&self, handles: &'a mut Handles, handle: &str, owner: &StateOwner) -> Result<&'a mut Entry, String> {
        let now = Instant::now();
        let ttl = self.settings.ttl;
        let expired_now = handles.live.get(handle).is_some_and(|e| now.duration_since(e.last_used) > ttl);
        if expired_now {
            handles.live.remove(handle);
            handles.expired.insert(handle.to_string(), now);
        }
        match handles.live.get_mut(handle) {
            Some(entry) if entry.owner != *owner => Err(
                "this state handle belongs to another client (a handle is bound to the client, HTTP session or \
                 token that asked for it); ask for your own with \"state\": \"new\""
                    .into(),
            ),
            Some(entry) => {
                entry.last_used = now;
                Ok(entry)
            }
            None if handles.expired.contains_key(handle) => Err(format!(
                "this state handle expired: it was not used for {} (MCP_CONDUCTOR_STATE_TTL), and its values are \
                 gone; ask for a new one with \"state\": \"new\"",
                human(ttl)
            )),
            None => Err(
                "unknown state handle: pass a stateHandle this server returned (handles are not shared between \
                 servers or replicas), or ask for a new one with \"state\": \"new\""
                    .into(),
            ),
        }
    }

    /// Drops handles unused for a TTL, and the memory of expiries older than another TTL.
    fn sweep(&self, handles: &mut Handles, now: Instant) {
        let ttl = self.settings.ttl;
        let stale: Vec<String> =
            handles.live.iter().filter(|(_, e)| now.duration_since(e.last_used) > ttl).map(|(h, _)| h.clone()).collect();
        for handle in stale {
            handles.live.remove(&handle);
            handles.expired.insert(handle, now);
        }
        handles.expired.retain(|_, at| now.duration_since(*at) <= ttl);
    }

    fn apply(&self, handle: &str, owner: &StateOwner, request: StateRequest) -> Result<Option<String>, String> {
        let max_bytes = self.settings.max_bytes;
        let mut handles = self.lock();
        let entry = self.entry(&mut handles, handle, owner)?;
        match request {
            StateRequest::Get { key } => Ok(entry.values.get(&key).cloned()),
            StateRequest::Set { key, json } => {
                let old = entry.values.get(&key).map_or(0, |v| BYTES_PER_KEY + key.len() + v.len());
                let bytes = entry.bytes - old + BYTES_PER_KEY + key.len() + json.len();
                if bytes > max_bytes {
                    return Err(format!(
                        "state.set('{}'): the handle would hold {bytes} bytes, more than MCP_CONDUCTOR_STATE_MAX_BYTES \
                         ({max_bytes}); delete keys or store less",
                        crate::text::cut_chars(&key, 60)
                    ));
                }
                entry.bytes = bytes;
                entry.values.insert(key, json);
                Ok(None)
            }
            StateRequest::Delete { key } => {
                let removed = entry.values.remove(&key);
                if let Some(value) = &removed {
                    entry.bytes -= BYTES_PER_KEY + key.len() + value.len();
                }
                Ok(Some(removed.is_some().to_string()))
            }
            StateRequest::Keys => Ok(Some(serde_json::to_string(&entry.values.keys().collect::<Vec<_>>()).unwrap_or_default())),
        }
    }
}

/// One handle, as the execution holding it sees it.
struct Slot {
    store: Arc<StateStore>,
    handle: String,
    owner: StateOwner,
}

impl StateSlot for Slot {
    fn request(&self, request: StateRequest) -> StateReply {
        let reply = self.store.apply(&self.handle, &self.owner, request);
        Box::pin(async move { reply })
    }
}

fn human(d: Duration) -> String {
    crate::sandbox::human_duration(d)
}


#[cfg(test)]
mod tests {
    use super::*;

    fn store(ttl_ms: u64, max_bytes: usize, max_handles: usize) -> Arc<StateStore> {
        let settings =
            StateSettings { ttl: Duration::from_millis(ttl_ms), max_bytes, max_handles, max_handles_per_client: max_handles };
        StateStore::new(settings)
    }

    fn run(slot: &Arc<dyn StateSlot>, request: StateRequest) -> Result<Option<String>, String> {
        futures::executor::block_on(slot.request(request))
    }

    fn set(key: &str, json: &str) -> StateRequest {
        StateRequest::Set { key: key.into(), json: json.into() }
    }

    #[test]
    fn values_survive_between_opens_of_one_handle() {
        let s = store(60_000, 1 << 20, 10);
        let me = StateOwner("stdio".into());
        let (handle, slot) = s.mint(&me).unwrap();
        assert!(handle.starts_with("st_") && handle.len() == 3 + 64, "{handle}");
        run(&slot, set("count", "1")).unwrap();
        run(&slot, set("list", "[1,2]")).unwrap();
        let again = s.open(&handle, &me).unwrap();
        assert_eq!(run(&again, StateRequest::Get { key: "count".into() }).unwrap().as_deref(), Some("1"));
        assert_eq!(run(&again, StateRequest::Keys).unwrap().as_deref(), Some(r#"["count","list"]"#));
        assert_eq!(run(&again, StateRequest::Delete { key: "count".into() }).unwrap().as_deref(), Some("true"));
        assert_eq!(run(&again, StateRequest::Delete { key: "count".into() }).unwrap().as_deref(), Some("false"));
        assert_eq!(run(&again, StateRequest::Get { key: "count".into() }).unwrap(), None);
        // Two handles never share values.
        let (_, other) = s.mint(&me).unwrap();
        assert_eq!(run(&other, StateRequest::Keys).unwrap().as_deref(), Some("[]"));
    }

    #[test]
    fn another_owner_a_forged_handle_and_an_expired_one_are_refused_with_the_reason() {
        let s = store(50, 1 << 20, 10);
        let me = StateOwner("session-a".into());
        let (handle, _) = s.mint(&me).unwrap();
        let refused = s.open(&handle, &StateOwner("session-b".into())).err().unwrap();
        assert!(refused.contains("belongs to another client"), "{refused}");
        // The real handle with its last digit changed.
        let last = if handle.ends_with('0') { '1' } else { '0' };
        let forged = format!("{}{last}", &handle[..handle.len() - 1]);
        let refused = s.open(&forged, &me).err().unwrap();
        assert!(refused.contains("unknown state handle"), "{refused}");
        std::thread::sleep(Duration::from_millis(80));
        let refused = s.open(&handle, &me).err().unwrap();
        assert!(refused.contains("expired") && refused.contains("MCP_CONDUCTOR_STATE_TTL"), "{refused}");
    }

    #[test]
    fn quotas_name_their_variable() {
        let s = store(60_000, BYTES_PER_KEY + 20, 2);
        let me = StateOwner("stdio".into());
        let (_, slot) = s.mint(&me).unwrap();
        run(&slot, set("k", "\"0123456789\"")).unwrap(); // 64 + 1 + 12 bytes
        run(&slot, set("k", "\"01234567890123\"")).unwrap(); // replaced: 64 + 1 + 16
        let refused = run(&slot, set("k2", "[1,2]")).unwrap_err();
        assert!(refused.contains("MCP_CONDUCTOR_STATE_MAX_BYTES"), "{refused}");
        run(&slot, StateRequest::Delete { key: "k".into() }).unwrap();
        run(&slot, set("k2", "[1,2]")).unwrap();
        s.mint(&me).unwrap();
        let refused = s.mint(&StateOwner("other".into())).err().unwrap();
        assert!(refused.contains("MCP_CONDUCTOR_STATE_MAX_HANDLES"), "{refused}");
        // One client cannot take every handle.
        let s = StateStore::new(StateSettings {
            ttl: Duration::from_secs(60),
            max_bytes: 1 << 20,
            max_handles: 10,
            max_handles_per_client: 2,
        });
        s.mint(&me).unwrap();
        s.mint(&me).unwrap();
        let refused = s.mint(&me).err().unwrap();
        assert!(refused.contains("MCP_CONDUCTOR_STATE_MAX_HANDLES_PER_CLIENT"), "{refused}");
        assert!(s.mint(&StateOwner("other".into())).is_ok());
    }
}
