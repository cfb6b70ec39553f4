//! Records the startup snapshot on V8: Deno's runtime plus our `mcp_conductor`
//! extension (`src/sandbox/glue.rs`, `js/conductor.js`), evaluated once here instead of in every
//! worker. Writes to OUT_DIR:
//! - `MCP_CONDUCTOR_SNAPSHOT.bin`, the snapshot;
//! - `residual_sources.rs`, the `lazy_loaded_*` extension sources the snapshot did not consume,
//!   pre-transpiled and embedded with `include_str!`, so the binary never reads Deno's JS from
//!   the cargo registry at run time.
//! The recipe follows Deno's own CLI snapshot (`deno_snapshots` crate, MIT).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/sandbox/glue.rs");
    println!("cargo:rerun-if-changed=src/sandbox/op_guards.rs");
    println!("cargo:rerun-if-changed=src/sandbox/cost_bounds.rs");
    println!("cargo:rerun-if-changed=src/sandbox/host.rs");
    println!("cargo:rerun-if-changed=src/sandbox/contract.rs");
    println!("cargo:rerun-if-changed=js/conductor.js");
    println!("cargo:rerun-if-changed=js/vendor/temporal-polyfill.js");
    version_line();
    snapshot::create();
}

/// `--version`'s text (`MCP_CONDUCTOR_VERSION`): the crate's version, the engine and the commit the
/// binary was built from (`MCP_CONDUCTOR_BUILD_COMMIT` when there is no `.git`, e.g. a source
/// tarball in an image build).
fn version_line() {
    println!("cargo:rerun-if-env-changed=MCP_CONDUCTOR_BUILD_COMMIT");
    let commit = std::env::var("MCP_CONDUCTOR_BUILD_COMMIT").ok().filter(|c| !c.trim().is_empty()).or_else(git_commit);
    let commit = commit.as_deref().map(str::trim).unwrap_or("unknown");
    println!("cargo:rustc-env=MCP_CONDUCTOR_COMMIT={commit}");
    println!(
        "cargo:rustc-env=MCP_CONDUCTOR_VERSION={} (engine: V8 {}, commit {commit})",
        std::env::var("CARGO_PKG_VERSION").expect("CARGO_PKG_VERSION"),
        deno_core::v8::VERSION_STRING,
    );
}

/// The checked-out commit, watching the files that change when it does.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").args(args).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let git_dir = std::path::PathBuf::from(git(&["rev-parse", "--absolute-git-dir"])?);
    // Only files that exist: cargo reruns a build script on every build for a missing one.
    let mut watched = vec![git_dir.join("HEAD"), git_dir.join("packed-refs")];
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git_dir.join(reference));
    }
    for file in watched.iter().filter(|f| f.is_file()) {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    git(&["rev-parse", "--short=12", "HEAD"])
}

#[path = "src/sandbox/glue.rs"]
#[allow(dead_code)]
mod glue;

#[path = "src/text.rs"]
#[allow(dead_code)]
mod text;

#[path = "src/sandbox/call_trace.rs"]
#[allow(dead_code)]
mod call_trace;

#[path = "src/sandbox/state_slot.rs"]
#[allow(dead_code)]
mod state_slot;

#[path = "src/sandbox/host.rs"]
#[allow(dead_code)]
mod host;

#[path = "src/sandbox/contract.rs"]
#[allow(dead_code, unused_macros)]
mod contract;

#[path = "src/sandbox/op_guards.rs"]
#[allow(dead_code)]
mod op_guards;

#[path = "src/sandbox/cost_bounds.rs"]
#[allow(dead_code)]
mod cost_bounds;

mod snapshot {
    use std::io::Write;
    use std::path::{Path, PathBuf};

    use deno_runtime::ops::bootstrap::SnapshotOptions;
    use deno_runtime::snapshot::LazyExtensionFileKind;

    use crate::{cost_bounds, glue, op_guards};

    pub fn create() {
        let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
        let options = SnapshotOptions {
            // We strip types with swc; there is no TypeScript compiler to report.
            ts_version: String::new(),
            v8_version: deno_core::v8::VERSION_STRING,
            target: std::env::var("TARGET").expect("TARGET"),
        };
        let glue = glue::extension(glue::GlueState { print: Box::new(|_, _| {}), host: None, memory_cap: 0 }, true);
        let output = deno_runtime::snapshot::create_runtime_snapshot(
            out_dir.join("MCP_CONDUCTOR_SNAPSHOT.bin"),
            options,
            vec![glue],
        );
        for path in &output.files_loaded_during_snapshot {
            println!("cargo:rerun-if-changed={}", path.display());
        }

        let residual_dir = out_dir.join("residual_sources");
        std::fs::create_dir_all(&residual_dir).expect("create residual dir");
        let mut js = Vec::new();
        let mut esm = Vec::new();
        for file in &output.lazy_extension_files {
            if output.consumed_lazy_specifiers.contains(&file.specifier) {
                continue;
            }
            println!("cargo:rerun-if-changed={}", file.path.display());
            let path = transpile(&residual_dir, &file.specifier, &file.path);
            sandbox_patch(&file.specifier, &path);
            match file.kind {
                // Lazy scripts are evaluated as a function body; wrap them here, as Deno does.
                LazyExtensionFileKind::Js => {
                    let source = std::fs::read_to_string(&path).expect("read transpiled");
                    std::fs::write(&path, deno_core::wrap_lazy_ext_script(&source)).expect("write");
                    js.push((file.specifier.clone(), path));
                }
                LazyExtensionFileKind::Esm => esm.push((file.specifier.clone(), path)),
            }
        }
        let residual: Vec<String> = js.iter().chain(&esm).map(|(s, _)| s.clone()).collect();
        check_patched(&residual);
        let mut table = std::fs::File::create(out_dir.join("residual_sources.rs")).expect("create table");
        writeln!(table, "// @generated by build.rs").unwrap();
        write_table(&mut table, &out_dir, "RESIDUAL_LAZY_JS", js);
        write_table(&mut table, &out_dir, "RESIDUAL_LAZY_ESM", esm);
    }

    /// The sandbox's changes to Deno's own sources (`op_guards::REFUSED_MODULES`, `SOURCE_PATCHES`):
    /// a refused module's source becomes a `throw` (an ES module keeps its imports and exports, so
    /// importers still link, and throws when evaluated).
    fn sandbox_patch(specifier: &str, path: &Path) {
        let mut code = std::fs::read_to_string(path).expect("read transpiled");
        if let Some(module) = op_guards::REFUSED_MODULES.iter().find(|m| m.sources.contains(&specifier)) {
            let message = op_guards::refused_module_message(module);
            let throw = format!("throw new TypeError({message:?});\n");
            // A lazy script is an expression (build.rs wraps it in `return (...)`).
            code = if specifier.starts_with("ext:") { format!("(function () {{ {throw} }})()") } else { throw + code.as_str() };
        }
        for (target, original, replacement) in source_patches() {
            if target == specifier {
                let found = code.matches(original).count();
                assert!(found == 1, "{specifier}: the text to patch occurs {found} times (once expected): {original}");
                code = code.replacen(original, replacement, 1);
            }
        }
        std::fs::write(path, code).expect("write patched source");
    }

    /// Every patch of Deno's sources: the op guards' and the cost bounds' (`cost_bounds.rs`).
    fn source_patches() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
        op_guards::SOURCE_PATCHES.iter().chain(cost_bounds::SOURCE_PATCHES).copied()
    }

    /// Every refused module's sources and every patched one must be residual (embedded by us),
    /// or the patch would silently not apply.
    fn check_patched(residual: &[String]) {
        let wanted = op_guards::REFUSED_MODULES
            .iter()
            .flat_map(|m| m.sources.iter().copied())
            .chain(source_patches().map(|(s, _, _)| s));
        for specifier in wanted {
            assert!(residual.iter().any(|r| r == specifier), "{specifier} is not a residual lazy source: it cannot be patched");
        }
    }

    fn transpile(dir: &Path, specifier: &str, source_path: &Path) -> PathBuf {
        use deno_core::{ModuleCodeString, ModuleName};
        let source = std::fs::read_to_string(source_path)
            .unwrap_or_else(|e| panic!("read {}: {e}", source_path.display()));
        let (code, _map) = deno_runtime::transpile::maybe_transpile_source(
            ModuleName::from(specifier.to_string()),
            ModuleCodeString::from(source),
        )
        .unwrap_or_else(|e| panic!("transpile {specifier}: {e}"));
        let name: String = specifier
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = dir.join(format!("{name}.js"));
        // Embedded as one-byte external strings at run time.
        assert!(code.as_bytes().is_ascii(), "{specifier}: transpiled source is not ASCII");
        std::fs::write(&path, code.as_bytes()).expect("write transpiled source");
        path
    }

    fn write_table(f: &mut std::fs::File, out_dir: &Path, name: &str, mut entries: Vec<(String, PathBuf)>) {
        entries.sort();
        writeln!(f, "pub static {name}: &[(&str, &str)] = &[").unwrap();
        for (specifier, path) in entries {
            let rel = path.strip_prefix(out_dir).expect("inside OUT_DIR");
            writeln!(
                f,
                "    ({specifier:?}, include_str!(concat!(env!(\"OUT_DIR\"), {:?}))),",
                format!("/{}", rel.display())
            )
            .unwrap();
        }
        writeln!(f, "];").unwrap();
    }
}
