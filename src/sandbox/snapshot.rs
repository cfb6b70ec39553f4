//! The startup snapshot `build.rs` records: Deno's runtime and our glue, already evaluated on
//! V8, plus the lazily loaded extension sources the snapshot does not contain (pre-transpiled
//! and embedded, so the binary never reads Deno's JS from the cargo registry at run time).

/// The snapshot every worker starts from.
pub static SNAPSHOT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/MCP_CONDUCTOR_SNAPSHOT.bin"));

// `RESIDUAL_LAZY_JS` and `RESIDUAL_LAZY_ESM`: (specifier, source) pairs.
include!(concat!(env!("OUT_DIR"), "/residual_sources.rs"));
