//! Module loader for one execution: the main module comes from the tool call, imports are
//! checked against the execution's permissions before anything is read or fetched.
//!
//! - `data:` and `blob:` always work (they carry their own source).
//! - `file:` needs read permission for the path (Deno lets static local imports skip the read
//!   check because the user launched the program; here the code comes from an LLM). Files below
//!   `<packages>/node_modules` are readable by every execution.
//! - `http(s):` needs `allow-import` for the host and is refused under `no-remote`.
//! - `playbook://<folder>/<file>` (what `importPlaybook` imports) is read by the server on the
//!   code's behalf, confined to that playbook's folder: no read permission needed; the
//!   playbook's code then runs with the execution's permissions.
//! - `node:` built-ins (and their bare names) except the process-wide ones
//!   (`op_guards::REFUSED_MODULES`).
//! - `npm:`, `jsr:` and bare package names: packages the administrator installed
//!   (`crate::packages`), through the import map if there is one. Package code's own imports
//!   follow Node's rules inside `<packages>/node_modules`; CommonJS files get an ESM wrapper.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use deno_ast::MediaType;
use deno_core::{
    ModuleLoadOptions, ModuleLoadReferrer, ModuleLoadResponse, ModuleLoader, ModuleSource,
    ModuleSourceCode, ModuleSpecifier, ModuleType, RequestedModuleType, ResolutionKind,
};
use deno_error::JsErrorBox;
use deno_permissions::{CheckSpecifierKind, OpenAccessKind, PermissionsContainer};

use super::confined_fs::{self, PackagesRule};
use super::code;
use super::contract::PLAYBOOK_SCHEME;
use crate::packages::{self, Manifest, Packages};
use crate::playbooks::Store;

/// What `resolve` maps a refused specifier to (`<REFUSED_SCHEME>:<index of the message>`), so
/// that `load` fails with the message. An error from `resolve` would not do: deno_core then falls
/// back to its own built-in module of that name (`node:*`), bypassing the refusal.
const REFUSED_SCHEME: &str = "mcp-conductor-refused";

pub struct SandboxLoader {
    permissions: PermissionsContainer,
    no_remote: bool,
    playbooks: Store,
    packages: Option<Arc<Packages>>,
    packages_rule: PackagesRule,
    /// The packages directory as this execution sees it (read at its first package import).
    manifest: OnceCell<Arc<Manifest>>,
    /// Messages of refused imports, by the index in their `REFUSED_SCHEME` URL.
    refusals: RefCell<Vec<String>>,
    /// Source maps of every module we transpiled, by specifier.
    source_maps: Rc<RefCell<HashMap<String, Vec<u8>>>>,
    /// Original text of modules, for the source line shown in error messages.
    sources: Rc<RefCell<HashMap<String, Arc<str>>>>,
}

impl SandboxLoader {
    pub fn new(
        permissions: PermissionsContainer,
        no_remote: bool,
        playbooks: Store,
        packages: Option<Arc<Packages>>,
        packages_rule: PackagesRule,
    ) -> Self {
        Self {
            permissions,
            no_remote,
            playbooks,
            packages,
            packages_rule,
            manifest: OnceCell::new(),
            refusals: RefCell::default(),
            source_maps: Default::default(),
            sources: Default::default(),
        }
    }

    /// Records the main module's source map (the main module is loaded from code, not through
    /// `load`).
    pub fn register(&self, specifier: &ModuleSpecifier, source: Arc<str>, source_map: Option<Vec<u8>>) {
        register(&self.source_maps, &self.sources, specifier, source, source_map);
    }
}

fn register(
    maps: &RefCell<HashMap<String, Vec<u8>>>,
    sources: &RefCell<HashMap<String, Arc<str>>>,
    specifier: &ModuleSpecifier,
    source: Arc<str>,
    source_map: Option<Vec<u8>>,
) {
    if let Some(map) = source_map {
        maps.borrow_mut().insert(specifier.to_string(), map);
    }
    sources.borrow_mut().insert(specifier.to_string(), source);
}

impl ModuleLoader for SandboxLoader {
    fn resolve(
        &self,
        specifier: &str,
        referrer: &str,
        _kind: ResolutionKind,
    ) -> Result<ModuleSpecifier, JsErrorBox> {
        match self.resolve_specifier(specifier, referrer) {
            Ok(url) => Ok(url),
            Err(Refusal(message)) => Ok(self.refuse(message)),
        }
    }

    fn load(
        &self,
        specifier: &ModuleSpecifier,
        _referrer: Option<&ModuleLoadReferrer>,
        options: ModuleLoadOptions,
    ) -> ModuleLoadResponse {
        let json = matches!(options.requested_module_type, RequestedModuleType::Json);
        let specifier = specifier.clone();
        match specifier.scheme() {
            "data" => ModuleLoadResponse::Sync(self.load_data(&specifier, json)),
            "file" => self.load_file(&specifier, json),
            PLAYBOOK_SCHEME => ModuleLoadResponse::Sync(self.load_playbook(&specifier, json)),
            REFUSED_SCHEME => ModuleLoadResponse::Sync(Err(self.refusal(&specifier))),
            "node" => ModuleLoadResponse::Sync(Err(JsErrorBox::type_error(format!(
                "Import of '{specifier}' failed: there is no such Node.js built-in module"
            )))),
            "http" | "https" => {
                if let Err(e) = self.check_remote(&specifier) {
                    return ModuleLoadResponse::Sync(Err(e));
                }
                let permissions = self.permissions.clone();
                let maps = self.source_maps.clone();
                let sources = self.sources.clone();
                ModuleLoadResponse::Async(Box::pin(async move {
                    // Every redirect is checked on its way (`fetch`).
                    let (found, text, media_type) = fetch(&specifier, &permissions).await?;
                    let (module_type, code, map) = to_module(&found, text.clone(), media_type, json)?;
                    register(&maps, &sources, &found, text, map);
                    Ok(ModuleSource::new_with_redirect(
                        module_type,
                        ModuleSourceCode::String(code.into()),
                        &specifier,
                        &found,
                        None,
                    ))
                }))
            }
            other => ModuleLoadResponse::Sync(Err(JsErrorBox::type_error(format!(
                "Import of '{specifier}' failed: the '{other}:' scheme is not supported in the sandbox"
            )))),
        }
    }

    fn get_source_map(&self, specifier: &str) -> Option<Cow<'_, [u8]>> {
        self.source_maps.borrow().get(specifier).map(|m| Cow::Owned(m.clone()))
    }

    fn get_source_mapped_source_line(&self, file_name: &str, line_number: usize) -> Option<String> {
        let sources = self.sources.borrow();
        let source = sources.get(file_name)?;
        source.lines().nth(line_number).map(str::to_string)
    }
}

impl SandboxLoader {
    fn load_data(&self, specifier: &ModuleSpecifier, json: bool) -> Result<ModuleSource, JsErrorBox> {
        let url = data_url::DataUrl::process(specifier.as_str())
            .map_err(|e| JsErrorBox::type_error(format!("Invalid data: URL '{specifier}': {e:?}")))?;
        let mime = url.mime_type().to_string();
        let (body, _) = url
            .decode_to_vec()
            .map_err(|e| JsErrorBox::type_error(format!("Invalid data: URL '{specifier}': {e:?}")))?;
        let text: Arc<str> = String::from_utf8_lossy(&body).into();
        let media_type = MediaType::from_content_type(specifier, &mime);
        self.module_source(specifier, text, media_type, json)
    }

    fn load_file(&self, specifier: &ModuleSpecifier, json: bool) -> ModuleLoadResponse {
        let (text, media_type) = match self.read_file(specifier) {
            Ok(read) => read,
            Err(e) => return ModuleLoadResponse::Sync(Err(e)),
        };
        let resolver = self.manifest_if_package(specifier).map(|m| m.resolver.clone());
        match resolver {
            // CommonJS (package files, or a `.cjs` one): an ES module wrapper that `require`s it.
            Some(resolver) if !json && resolver.is_maybe_cjs(specifier) => {
                let specifier = specifier.clone();
                ModuleLoadResponse::Async(Box::pin(async move {
                    let code = resolver
                        .to_esm(&specifier, text.to_string())
                        .await
                        .map_err(|e| JsErrorBox::generic(format!("Import of '{specifier}' failed: {e}")))?;
                    Ok(ModuleSource::new(ModuleType::JavaScript, ModuleSourceCode::String(code.into()), &specifier, None))
                }))
            }
            _ => ModuleLoadResponse::Sync(self.module_source(specifier, text, media_type, json)),
        }
    }

    fn read_file(&self, specifier: &ModuleSpecifier) -> Result<(Arc<str>, MediaType), JsErrorBox> {
        let path = specifier
            .to_file_path()
            .map_err(|_| JsErrorBox::type_error(format!("Invalid file URL '{specifier}'")))?;
        let in_packages = self.packages_rule.in_node_modules(&confined_fs::resolve(&path, true));
        if !in_packages {
            self.permissions
                .check_specifier(specifier, CheckSpecifierKind::Dynamic)
                .map_err(JsErrorBox::from_err)?;
        }
        // Where the path really leads must be readable too (as in the confined filesystem).
        confined_fs::confine(&self.permissions, &self.packages_rule, &path, OpenAccessKind::Read, "import")?;
        let text = read_module_file(&path)
            .map_err(|e| JsErrorBox::generic(format!("Import of '{specifier}' failed: {e}")))?;
        Ok((text.into(), MediaType::from_path(&path)))
    }

    fn load_playbook(&self, specifier: &ModuleSpecifier, json: bool) -> Result<ModuleSource, JsErrorBox> {
        let (text, media_type) = self.playbooks.read_module(specifier).map_err(JsErrorBox::generic)?;
        self.module_source(specifier, text.into(), media_type, json)
    }

    fn module_source(
        &self,
        specifier: &ModuleSpecifier,
        text: Arc<str>,
        media_type: MediaType,
        json: bool,
    ) -> Result<ModuleSource, JsErrorBox> {
        let (module_type, code, map) = to_module(specifier, text.clone(), media_type, json)?;
        self.register(specifier, text, map);
        Ok(ModuleSource::new(module_type, ModuleSourceCode::String(code.into()), specifier, None))
    }

    fn check_remote(&self, specifier: &ModuleSpecifier) -> Result<(), JsErrorBox> {
        if self.no_remote {
            return Err(JsErrorBox::new(
                "NotCapable",
                format!(
                    "Import of '{specifier}' refused: remote modules are disabled (no-remote / \
                     cached-only in MCP_CONDUCTOR_RUN_ARGS)"
                ),
            ));
        }
        self.permissions
            .check_specifier(specifier, CheckSpecifierKind::Dynamic)
            .map_err(JsErrorBox::from_err)
    }
}

/// Why an import cannot be resolved (shown when it is loaded).
struct Refusal(String);

impl SandboxLoader {
    fn refuse(&self, message: String) -> ModuleSpecifier {
        let mut refusals = self.refusals.borrow_mut();
        refusals.push(message);
        ModuleSpecifier::parse(&format!("{REFUSED_SCHEME}:{}", refusals.len() - 1)).expect("a valid URL")
    }

    fn refusal(&self, specifier: &ModuleSpecifier) -> JsErrorBox {
        let index: Option<usize> = specifier.path().parse().ok();
        let message = index.and_then(|i| self.refusals.borrow().get(i).cloned());
        JsErrorBox::type_error(message.unwrap_or_else(|| format!("Import of '{specifier}' failed")))
    }

    /// The packages directory as of this execution's first package import (one `stat` of its
    /// files per execution, none for code that imports no package).
    fn manifest(&self) -> Option<&Arc<Manifest>> {
        let packages = self.packages.as_ref()?;
        Some(self.manifest.get_or_init(|| packages.manifest()))
    }

    /// The manifest, when `specifier` is a file in `<packages>/node_modules`.
    fn manifest_if_package(&self, specifier: &ModuleSpecifier) -> Option<&Arc<Manifest>> {
        let path = specifier.to_file_path().ok()?;
        if !self.packages_rule.in_node_modules(&confined_fs::resolve(&path, true)) && !path.extension().is_some_and(|e| e == "cjs") {
            return None;
        }
        self.manifest()
    }

    fn resolve_specifier(&self, specifier: &str, referrer: &str) -> Result<ModuleSpecifier, Refusal> {
        let referrer_url = ModuleSpecifier::parse(referrer).ok();
        // Package code: Node's rules, inside node_modules.
        if let Some(referrer_url) = &referrer_url
            && let Some(manifest) = self.manifest_if_package(referrer_url)
            && manifest.resolver.is_package_file(referrer_url)
        {
            if let Some(builtin) = builtin_name(specifier) {
                return builtin_url(builtin);
            }
            let url = manifest
                .resolver
                .resolve_from_package(specifier, referrer_url)
                .map_err(|e| Refusal(format!("Import of '{specifier}' from '{referrer_url}' failed: {e}")))?;
            return match url.scheme() {
                "node" => builtin_url(&url.path().to_string()),
                _ => Ok(url),
            };
        }
        // User code: the import map first (it may map a name to `npm:`/`jsr:`/a URL).
        let mapped = self.map_import(specifier, referrer_url.as_ref())?;
        let specifier = mapped.as_deref().unwrap_or(specifier);
        if let Some(builtin) = builtin_name(specifier) {
            return builtin_url(builtin);
        }
        if let Some(package) = packages::spec::parse_import(specifier) {
            let package = package.map_err(|e| Refusal(format!("Import of '{specifier}' failed: {e}")))?;
            let Some(manifest) = self.manifest() else {
                return Err(Refusal(format!("Import of '{specifier}' failed: npm packages are not available here")));
            };
            return manifest.resolve_package(&package, specifier).map_err(Refusal);
        }
        deno_core::resolve_import(specifier, referrer).map_err(|e| Refusal(e.to_string()))
    }

    /// The import map's answer for a specifier from user code, when it maps it.
    fn map_import(&self, specifier: &str, referrer: Option<&ModuleSpecifier>) -> Result<Option<String>, Refusal> {
        let (Some(referrer), Some(manifest)) = (referrer, self.manifest_for_mapping(specifier)) else {
            return Ok(None);
        };
        if let Some(problem) = &manifest.import_map_problem {
            return Err(Refusal(format!("Import of '{specifier}' failed: {problem}")));
        }
        let Some(map) = &manifest.import_map else { return Ok(None) };
        match map.resolve(specifier, referrer) {
            Ok(url) => {
                let plain = deno_core::resolve_import(specifier, referrer.as_str()).ok();
                Ok((plain.as_ref() != Some(&url)).then(|| url.to_string()))
            }
            Err(_) => Ok(None),
        }
    }

    /// The manifest when an import map could matter: relative and absolute URLs resolve as they
    /// are unless a map exists, which needs the manifest; skip it for `data:` and `playbook:`.
    fn manifest_for_mapping(&self, specifier: &str) -> Option<&Arc<Manifest>> {
        if specifier.starts_with("data:") || specifier.starts_with("playbook:") || specifier.starts_with("blob:") {
            return None;
        }
        self.manifest()
    }
}

/// The built-in module a specifier names (`node:fs`, `fs`, `fs/promises`), if any.
fn builtin_name(specifier: &str) -> Option<&str> {
    match specifier.strip_prefix("node:") {
        Some(name) => Some(name),
        None => deno_runtime::deno_node::is_builtin_node_module(specifier).then_some(specifier),
    }
}

/// `node:<name>`, or a refusal for a process-wide or unknown one.
fn builtin_url(name: &str) -> Result<ModuleSpecifier, Refusal> {
    if let Some(refused) = super::op_guards::REFUSED_MODULES.iter().find(|m| m.name == name) {
        return Err(Refusal(format!("Import of 'node:{name}' failed: {}", super::op_guards::refused_module_message(refused))));
    }
    if !deno_runtime::deno_node::is_builtin_node_module(name) {
        return Err(Refusal(format!("Import of 'node:{name}' failed: there is no such Node.js built-in module")));
    }
    ModuleSpecifier::parse(&format!("node:{name}")).map_err(|e| Refusal(e.to_string()))
}

/// Source text → (module type, JavaScript, source map).
fn to_module(
    specifier: &ModuleSpecifier,
    text: Arc<str>,
    media_type: MediaType,
    json: bool,
) -> Result<(ModuleType, String, Option<Vec<u8>>), JsErrorBox> {
    if json {
        return Ok((ModuleType::Json, text.to_string(), None));
    }
    match media_type {
        MediaType::JavaScript | MediaType::Mjs | MediaType::Unknown => {
            Ok((ModuleType::JavaScript, text.to_string(), None))
        }
        MediaType::Json => Ok((ModuleType::Json, text.to_string(), None)),
        MediaType::TypeScript | MediaType::Mts | MediaType::Tsx | MediaType::Jsx => {
            let emitted = code::transpile_module(text, specifier, media_type)
                .map_err(|e| JsErrorBox::new("SyntaxError", e.0))?;
            Ok((ModuleType::JavaScript, emitted.code, emitted.source_map))
        }
        other => Err(JsErrorBox::type_error(format!(
            "Import of '{specifier}' failed: unsupported module type {other}"
        ))),
    }
}

/// Redirects a remote import may follow.
const MAX_REDIRECTS: usize = 10;

/// The largest module source the loader reads (a file or a download): its text is held in Rust,
/// outside the execution's memory cap, so a device (`/dev/zero`), a sparse file or an endless
/// response must not be read whole. The largest npm files are a few MiB.
const MAX_MODULE_BYTES: usize = 64 << 20;

/// A module file's text, refused past [`MAX_MODULE_BYTES`] before more is read.
fn read_module_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?.take(MAX_MODULE_BYTES as u64 + 1).read_to_string(&mut text)?;
    if text.len() > MAX_MODULE_BYTES {
        return Err(std::io::Error::other(format!("the module is larger than {} MiB", MAX_MODULE_BYTES >> 20)));
    }
    Ok(text)
}

/// Downloads a remote module; returns the final URL after redirects. Every hop is checked
/// against the execution's import permissions before it is requested (a redirect must land on
/// an allowed host too), and so is every address a host name resolves to (the server's own
/// listening addresses are on the deny list: `ServerOwned::deny_net`); the connection then goes
/// to exactly those addresses, so a DNS answer that changes between the check and the connection
/// (rebinding) cannot lead anywhere else.
async fn fetch(
    specifier: &ModuleSpecifier,
    permissions: &PermissionsContainer,
) -> Result<(ModuleSpecifier, Arc<str>, MediaType), JsErrorBox> {
    let fail = |e: &dyn std::fmt::Display| JsErrorBox::type_error(format!("Import of '{specifier}' failed: {e}"));
    let mut url = specifier.clone();
    for _ in 0..=MAX_REDIRECTS {
        if url != *specifier {
            permissions.check_specifier(&url, CheckSpecifierKind::Dynamic).map_err(JsErrorBox::from_err)?;
        }
        // The egress policy's methods and paths hold imports too (hosts are already in the
        // narrowed import permissions).
        super::egress_gate::check_import(&url).map_err(|e| JsErrorBox::new("NotCapable", e))?;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("mcp-conductor/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none());
        if let (Some(deno_core::url::Host::Domain(host)), Some(port)) = (url.host(), url.port_or_known_default()) {
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host, port)).await.map_err(|e| fail(&e))?.collect();
            let mut checker = permissions.clone();
            for addr in &addrs {
                checker.check_import_resolved(&addr.ip(), port, "import()").map_err(JsErrorBox::from_err)?;
            }
            builder = builder.resolve_to_addrs(host, &addrs);
        }
        let client = builder.build().map_err(|e| fail(&e))?;
        let response = client.get(url.as_str()).send().await.map_err(|e| fail(&e))?;
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| fail(&format!("{} redirects without a Location", response.status())))?;
            url = url.join(location).map_err(|e| fail(&e))?;
            continue;
        }
        let response = response.error_for_status().map_err(|e| fail(&e))?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fail(&e))? {
            if body.len() + chunk.len() > MAX_MODULE_BYTES {
                return Err(fail(&format!("the module is larger than {} MiB", MAX_MODULE_BYTES >> 20)));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        let media_type = match content_type {
            Some(ct) => MediaType::from_content_type(&url, &ct),
            None => MediaType::from_specifier(&url),
        };
        return Ok((url, text.into(), media_type));
    }
    Err(fail(&format!("more than {MAX_REDIRECTS} redirects")))
}
