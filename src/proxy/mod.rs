//! The MCP proxy: upstream MCP servers that sandboxed code reaches through `mcpFactory`.
//! No port and no token: the sandbox's ops call [`ProxyManager`] in this process directly, so
//! code needs no network permission and cannot reach an upstream any other way.
//!
//! - [`config`]: the `{"mcpServers": ...}` file
//! - [`upstream`]: one rmcp client connection (stdio child or streamable HTTP)
//! - [`manager`]: lazy connections, reconnects, config reloads
//! - [`format`]: tool results into values, schemas into signatures
//! - [`sandbox_api`]: the requests `mcpFactory` makes
//! - [`typescript`]: tool schemas into TypeScript declarations

pub mod config;
pub mod format;
pub mod manager;
pub mod sandbox_api;
pub mod typescript;
pub mod upstream;

pub use config::ConfigSource;
pub use manager::{ProxyManager, ProxySettings, ServerStatus};
pub use sandbox_api::ProxyHost;

/// File names an upstream config goes by (`~/.mcp-conductor/`, `<ROOT>/`): the server keeps
/// code away from all of them next to the file it reads (`server_owned` in lib.rs).
pub const CONFIG_FILE_NAMES: [&str; 2] = ["mcp-config.json", "mcp.json"];
