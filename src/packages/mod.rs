//! npm packages the administrator installed, and the import map: the packages directory
//! (`MCP_CONDUCTOR_PACKAGES_DIR`, a `package.json` plus `node_modules/`) is filled by `npm` (or
//! `mcp-conductor packages add`); its `package.json` `dependencies` are what code may import by
//! name. The server re-reads it (and the import map) when it changes: one `stat` each per
//! execution, so packages added while it runs are importable without a restart.
//!
//! - [`spec`]: package specifiers (`npm:`, `jsr:`, bare names) → npm name, range, subpath
//! - [`install`]: `mcp-conductor packages add|list|remove` and startup installs, through `npm`
//! - [`resolver`]: BYONM resolution in `<packages>` and CommonJS wrappers (`cjs`: export analysis)

mod cjs;
pub mod install;
pub mod resolver;
pub mod spec;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use deno_core::url::Url;

use crate::file_stamp::{Stamp, stamp};
use import_map::ImportMap;

pub use spec::PackageRef;

/// The packages directory and what it currently allows.
pub struct Packages {
    /// Canonical when it exists.
    pub dir: PathBuf,
    /// `<dir>/node_modules`, canonical when it exists.
    pub node_modules: PathBuf,
    import_map: ImportMapSource,
    current: Mutex<Loaded>,
    /// For `require()` (node services, built with each worker before its job): holds no cache,
    /// so one instance serves every version of the directory.
    shared: Arc<resolver::Resolver>,
}

/// Where the import map comes from: the variable, or the first of `<packages>/deno.json`,
/// `<packages>/import_map.json` that exists (looked up again on every reload).
#[derive(Debug, Clone)]
pub enum ImportMapSource {
    Explicit(PathBuf),
    Default,
}

/// File names looked for in the packages directory when `MCP_CONDUCTOR_IMPORT_MAP` is unset.
pub const DEFAULT_IMPORT_MAPS: [&str; 2] = ["deno.json", "import_map.json"];

/// What one execution resolves packages with (a consistent view: reloaded between executions,
/// never during one).
pub struct Manifest {
    /// The packages directory, for messages.
    pub dir: PathBuf,
    pub resolver: Arc<resolver::Resolver>,
    /// `dependencies` of `<packages>/package.json`: name → range as written.
    pub allowed: BTreeMap<String, String>,
    /// Why `package.json` could not be used (the import error says it).
    pub problem: Option<String>,
    pub import_map: Option<ImportMap>,
    /// Why the import map could not be used.
    pub import_map_problem: Option<String>,
}

struct Loaded {
    stamps: [Stamp; 2],
    import_map_path: Option<PathBuf>,
    manifest: Option<Arc<Manifest>>,
}

impl Packages {
    pub fn new(dir: PathBuf, import_map: ImportMapSource) -> Self {
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        let node_modules = dir.join("node_modules");
        let node_modules = std::fs::canonicalize(&node_modules).unwrap_or(node_modules);
        Packages {
            shared: Arc::new(resolver::Resolver::new(&dir, &node_modules)),
            dir,
            node_modules,
            import_map,
            current: Mutex::new(Loaded { stamps: [None, None], import_map_path: None, manifest: None }),
        }
    }

    pub fn shared_resolver(&self) -> Arc<resolver::Resolver> {
        self.shared.clone()
    }

    pub fn package_json(&self) -> PathBuf {
        self.dir.join("package.json")
    }

    /// The import map file in use now, if any.
    pub fn import_map_path(&self) -> Option<PathBuf> {
        match &self.import_map {
            ImportMapSource::Explicit(path) => Some(path.clone()),
            ImportMapSource::Default => {
                DEFAULT_IMPORT_MAPS.iter().map(|name| self.dir.join(name)).find(|p| p.is_file())
            }
        }
    }

    /// `MCP_CONDUCTOR_IMPORT_MAP`, when set (a default one is inside the directory).
    pub fn explicit_import_map(&self) -> Option<&Path> {
        match &self.import_map {
            ImportMapSource::Explicit(path) => Some(path),
            ImportMapSource::Default => None,
        }
    }

    /// The current allow-list and import map, re-read when either file changed.
    pub fn manifest(&self) -> Arc<Manifest> {
        let import_map_path = self.import_map_path();
        let stamps = [stamp(&self.package_json()), import_map_path.as_deref().and_then(stamp)];
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match &current.manifest {
            Some(manifest) if current.stamps == stamps && current.import_map_path == import_map_path => manifest.clone(),
            _ => {
                let manifest = Arc::new(self.load(import_map_path.as_deref()));
                *current = Loaded { stamps, import_map_path, manifest: Some(manifest.clone()) };
                manifest
            }
        }
    }

    fn load(&self, import_map_path: Option<&Path>) -> Manifest {
        // `node_modules` may have appeared since startup: resolve it again.
        let node_modules = std::fs::canonicalize(self.dir.join("node_modules")).unwrap_or_else(|_| self.node_modules.clone());
        let mut manifest = Manifest {
            dir: self.dir.clone(),
            resolver: Arc::new(resolver::Resolver::new(&self.dir, &node_modules)),
            allowed: BTreeMap::new(),
            problem: None,
            import_map: None,
            import_map_problem: None,
        };
        match read_dependencies(&self.package_json()) {
            Ok(allowed) => manifest.allowed = allowed,
            Err(problem) => manifest.problem = problem,
        }
        if let Some(path) = import_map_path {
            match read_import_map(path) {
                Ok(map) => manifest.import_map = Some(map),
                Err(problem) => {
                    tracing::warn!("import map {}: {problem}", path.display());
                    manifest.import_map_problem = Some(format!("the import map {} is unusable: {problem}", path.display()));
                }
            }
        }
        if let Some(problem) = &manifest.problem {
            tracing::warn!("packages: {problem}");
        }
        manifest
    }
}

impl Manifest {
    /// The file a package specifier from user code (or the import map) names: the package must
    /// be in `package.json`'s `dependencies`, installed in `node_modules`, and satisfy the
    /// requested range. Nothing is ever fetched.
    pub fn resolve_package(&self, package: &PackageRef, specifier: &str) -> Result<Url, String> {
        let dir = self.dir.display();
        if let Some(problem) = &self.problem {
            return Err(format!("Import of '{specifier}' failed: {problem}"));
        }
        if !self.allowed.contains_key(&package.name) {
            let add = format!("mcp-conductor packages add {}", package.name);
            return Err(if self.allowed.is_empty() {
                format!(
                    "Import of '{specifier}' failed: no npm packages are installed for the sandbox. The \
                     administrator installs them into {dir} (`{add}`; MCP_CONDUCTOR_PACKAGES_DIR)"
                )
            } else {
                let names: Vec<&str> = self.allowed.keys().map(String::as_str).collect();
                format!(
                    "Import of '{specifier}' failed: '{}' is not one of the packages installed for the sandbox \
                     ({}). The administrator can add it: `{add}`",
                    package.name,
                    names.join(", ")
                )
            });
        }
        let node_modules = &self.resolver.node_modules;
        let folder = std::fs::canonicalize(node_modules.join(&package.name))
            .ok()
            .filter(|f| f.starts_with(node_modules) && f.join("package.json").is_file())
            .ok_or_else(|| {
                format!(
                    "Import of '{specifier}' failed: '{}' is listed in {dir}/package.json but not installed \
                     in {dir}/node_modules (run `npm install --ignore-scripts --prefix {dir}`)",
                    package.name
                )
            })?;
        let version = installed_version(node_modules, &package.name).unwrap_or_default();
        if !install::satisfies(package, &version) {
            return Err(format!(
                "Import of '{specifier}' failed: it asks for {}@{}, but the installed version is {version} \
                 (import it without a version, or with a range {version} satisfies)",
                package.name,
                package.req_text().unwrap_or("*")
            ));
        }
        let url = self
            .resolver
            .package_entry(&folder, package.sub_path.as_deref())
            .map_err(|e| format!("Import of '{specifier}' failed: {e}"))?;
        Ok(url)
    }
}

pub fn installed_version(node_modules: &Path, name: &str) -> Option<String> {
    if !spec::valid_name(name) {
        return None;
    }
    let text = std::fs::read_to_string(node_modules.join(name).join("package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("version")?.as_str().map(str::to_string)
}

/// `dependencies` of a `package.json`. `Err(None)`: the file does not exist (no packages).
pub fn read_dependencies(path: &Path) -> Result<BTreeMap<String, String>, Option<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(None),
        Err(e) => return Err(Some(format!("cannot read {}: {e}", path.display()))),
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Some(format!("{} is not valid JSON: {e}", path.display())))?;
    let Some(deps) = json.get("dependencies") else { return Ok(BTreeMap::new()) };
    let deps = deps.as_object().ok_or_else(|| Some(format!("{}: `dependencies` is not an object", path.display())))?;
    Ok(deps
        .iter()
        .map(|(name, range)| (name.clone(), range.as_str().unwrap_or("*").to_string()))
        .collect())
}

/// Deno's `imports` and `scopes` from an import map or a `deno.json` (JSONC allowed).
fn read_import_map(path: &Path) -> Result<ImportMap, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    let value: serde_json::Value = jsonc_parser::parse_to_serde_value(&text, &Default::default())
        .map_err(|e| format!("not valid JSON: {e}"))?;
    let mut only_maps = serde_json::Map::new();
    for key in ["imports", "scopes"] {
        if let Some(v) = value.get(key) {
            only_maps.insert(key.into(), v.clone());
        }
    }
    let base = Url::from_file_path(path).map_err(|_| "not an absolute path".to_string())?;
    let parsed = import_map::parse_from_value(base, serde_json::Value::Object(only_maps)).map_err(|e| e.to_string())?;
    for diagnostic in &parsed.diagnostics {
        tracing::warn!("import map {}: {diagnostic}", path.display());
    }
    Ok(parsed.import_map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_follows_package_json_and_import_map() {
        let dir = tempfile::tempdir().unwrap();
        let packages = Packages::new(dir.path().to_path_buf(), ImportMapSource::Default);
        let m = packages.manifest();
        assert!(m.allowed.is_empty() && m.problem.is_none() && m.import_map.is_none());
        std::fs::write(dir.path().join("package.json"), r#"{"dependencies":{"zod":"^3.23.8"}}"#).unwrap();
        let m = packages.manifest();
        assert_eq!(m.allowed.get("zod").map(String::as_str), Some("^3.23.8"));
        assert!(Arc::ptr_eq(&m, &packages.manifest()), "unchanged files are not re-read");
        std::fs::write(dir.path().join("package.json"), "{").unwrap();
        assert!(packages.manifest().problem.as_deref().unwrap().contains("not valid JSON"));
        std::fs::write(
            dir.path().join("deno.json"),
            "// comments are fine\n{\"imports\": {\"z\": \"npm:zod@^3\"}, \"tasks\": {}}",
        )
        .unwrap();
        let m = packages.manifest();
        let map = m.import_map.as_ref().expect("deno.json is the default import map");
        let referrer = Url::parse("file:///ws/main.ts").unwrap();
        assert_eq!(map.resolve("z", &referrer).unwrap().as_str(), "npm:zod@^3");
    }
}
