//! The names the Rust side and `js/conductor.js` must agree on, each written once here (and
//! once in the glue; the tests below read the glue's source and compare).
//!
//! Self-contained: `build.rs` includes this file with `glue.rs` for the startup snapshot.

/// `Symbol.for(HOOK_KEY)` on globalThis is the glue's frozen hook (`harden`, `setup`, `run`).
pub const HOOK_KEY: &str = "mcp-conductor";

/// A call of the glue's hook, e.g. `hook_call!("harden()")`, as script source text.
#[macro_export]
macro_rules! hook_call {
    ($call:literal) => {
        concat!(r#"globalThis[Symbol.for("mcp-conductor")]."#, $call)
    };
}

/// Every module of ours lives under this prefix (stack traces drop its frames).
pub const GLUE_PREFIX: &str = "ext:mcp_conductor/";
/// The glue itself.
pub const GLUE_SPECIFIER: &str = "ext:mcp_conductor/conductor.js";
/// The module whose shape the user's code is wrapped into (`code.rs`).
pub const WRAPPER_SPECIFIER: &str = "ext:mcp_conductor/wrapper.js";
/// The Temporal polyfill, a classic script evaluated into the snapshot (`glue.rs`).
pub const TEMPORAL_SPECIFIER: &str = "ext:mcp_conductor/temporal.js";

/// `importPlaybook(name)` imports `playbook://<name>/playbook.ts`.
pub const PLAYBOOK_SCHEME: &str = "playbook";

/// Globals the server defines in every execution (through the glue's `setup()`).
pub const WORKSPACE_DIR: &str = "WORKSPACE_DIR";
pub const ROOT_DIR: &str = "ROOT_DIR";
pub const PLAYBOOKS_DIR: &str = "PLAYBOOKS_DIR";
pub const PERMISSIONS: &str = "PERMISSIONS";
/// The egress policy's rules as text (no credential values), or `null` without a policy.
pub const EGRESS: &str = "EGRESS";
pub const SERVER_GLOBALS: [&str; 5] = [WORKSPACE_DIR, ROOT_DIR, PLAYBOOKS_DIR, PERMISSIONS, EGRESS];

/// Globals the glue defines itself (`defineGlobal(...)` in `harden()`).
pub const GLUE_GLOBALS: [&str; 5] = ["mcpFactory", "importPlaybook", "progress", "mcp", "state"];

#[cfg(test)]
mod tests {
    use super::*;

    const GLUE: &str = include_str!("../../js/conductor.js");

    /// The string literals in `js/conductor.js` that follow `prefix` (`defineGlobal("` ...).
    fn literals_after<'a>(prefix: &str) -> Vec<&'a str> {
        GLUE.match_indices(prefix)
            .filter_map(|(at, _)| GLUE[at + prefix.len()..].split('"').next())
            .collect()
    }

    #[test]
    fn the_glue_installs_its_hook_under_hook_key() {
        assert_eq!(literals_after("const HOOK_KEY = \""), [HOOK_KEY]);
        assert!(hook_call!("run()").contains(&format!("Symbol.for(\"{HOOK_KEY}\")")));
    }

    #[test]
    fn the_glue_defines_exactly_the_glue_globals() {
        assert_eq!(literals_after("defineGlobal(\""), GLUE_GLOBALS);
    }

    #[test]
    fn the_glue_imports_playbooks_with_the_playbook_scheme() {
        assert_eq!(literals_after("const PLAYBOOK_SCHEME = \""), [PLAYBOOK_SCHEME]);
    }

    #[test]
    fn glue_modules_share_the_prefix() {
        assert!(GLUE_SPECIFIER.starts_with(GLUE_PREFIX) && WRAPPER_SPECIFIER.starts_with(GLUE_PREFIX));
    }
}
