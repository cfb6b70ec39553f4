//! The startup snapshot `build.rs` records (feature `snapshot`): Deno's runtime and our glue,
//! already evaluated, plus the lazily loaded extension sources the snapshot does not contain.
//! Without the feature, workers evaluate everything at startup and read Deno's extension
//! sources from the cargo registry (slow, and tied to the build machine).

#[cfg(feature = "snapshot")]
mod embedded {
    pub static SNAPSHOT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/MCP_CONDUCTOR_SNAPSHOT.bin"));
    include!(concat!(env!("OUT_DIR"), "/residual_sources.rs"));
}

pub type Sources = &'static [(&'static str, &'static str)];

pub struct Startup {
    pub snapshot: Option<&'static [u8]>,
    pub residual_js: Sources,
    pub residual_esm: Sources,
}

#[cfg(feature = "snapshot")]
pub const STARTUP: Startup = Startup {
    snapshot: Some(embedded::SNAPSHOT),
    residual_js: embedded::RESIDUAL_LAZY_JS,
    residual_esm: embedded::RESIDUAL_LAZY_ESM,
};

#[cfg(not(feature = "snapshot"))]
pub const STARTUP: Startup = Startup { snapshot: None, residual_js: &[], residual_esm: &[] };
