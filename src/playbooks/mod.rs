//! Playbooks: reusable code + docs under `PLAYBOOKS_DIR` that the agent lists, reads and
//! creates with tools, and that code imports with `importPlaybook(folder)`.
//!
//! - [`frontmatter`]: `playbook.md` metadata (YAML) and body
//! - [`store`]: the folders on disk, and reading playbook modules for the module loader
//! - [`defaults`]: playbooks shipped in the binary

pub mod defaults;
pub mod frontmatter;
pub mod store;

pub use store::Store;
