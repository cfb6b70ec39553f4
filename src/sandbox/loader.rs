//! Module loader for one execution: the main module comes from the tool call, imports are
//! checked against the execution's permissions before anything is read or fetched.
//!
//! - `data:` and `blob:` always work (they carry their own source).
//! - `file:` needs read permission for the path (Deno lets static local imports skip the read
//!   check because the user launched the program; here the code comes from an LLM).
//! - `http(s):` needs `allow-import` for the host and is refused under `no-remote`.
//! - `playbook://<folder>/<file>` (what `importPlaybook` imports) is read by the server on the
//!   code's behalf, confined to that playbook's folder: no read permission needed; the
//!   playbook's code then runs with the execution's permissions.
//! - `npm:`, `jsr:`, `node:` and bare specifiers are not available.

use std::borrow::Cow;
use std::cell::RefCell;
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

use super::{code, confined_fs};
use crate::playbooks::Store;

/// Specifier schemes the sandbox does not offer (yet).
const UNAVAILABLE_SCHEMES: [&str; 3] = ["npm:", "jsr:", "node:"];
/// What `resolve` maps them to, so that `load` refuses them.
const REFUSED_SCHEME: &str = "mcp-conductor-refused";

/// The error for an import of an unavailable scheme (also what `process.getBuiltinModule`
/// says, in `js/conductor.js`).
fn refused(specifier: &str) -> JsErrorBox {
    let scheme = specifier.split(':').next().unwrap_or_default();
    JsErrorBox::type_error(format!(
        "Import of '{specifier}' failed: {scheme}: specifiers are not available in the \
         mcp-conductor sandbox; import a URL (needs allow-import) or a data: URL"
    ))
}

pub struct SandboxLoader {
    permissions: PermissionsContainer,
    no_remote: bool,
    playbooks: Store,
    /// Source maps of every module we transpiled, by specifier.
    source_maps: Rc<RefCell<HashMap<String, Vec<u8>>>>,
    /// Original text of modules, for the source line shown in error messages.
    sources: Rc<RefCell<HashMap<String, Arc<str>>>>,
}

impl SandboxLoader {
    pub fn new(permissions: PermissionsContainer, no_remote: bool, playbooks: Store) -> Self {
        Self {
            permissions,
            no_remote,
            playbooks,
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
        // Refused at load, not here: when `resolve` fails, deno_core falls back to its own
        // built-in module of that name (`node:*`), which would bypass the refusal.
        if UNAVAILABLE_SCHEMES.iter().any(|scheme| specifier.starts_with(scheme)) {
            return ModuleSpecifier::parse(&format!("{REFUSED_SCHEME}:{specifier}")).map_err(JsErrorBox::from_err);
        }
        deno_core::resolve_import(specifier, referrer).map_err(JsErrorBox::from_err)
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
            "file" => ModuleLoadResponse::Sync(self.load_file(&specifier, json)),
            "playbook" => ModuleLoadResponse::Sync(self.load_playbook(&specifier, json)),
            REFUSED_SCHEME => ModuleLoadResponse::Sync(Err(refused(&specifier.as_str()[REFUSED_SCHEME.len() + 1..]))),
            "http" | "https" => {
                if let Err(e) = self.check_remote(&specifier) {
                    return ModuleLoadResponse::Sync(Err(e));
                }
                let permissions = self.permissions.clone();
                let maps = self.source_maps.clone();
                let sources = self.sources.clone();
                ModuleLoadResponse::Async(Box::pin(async move {
                    let (found, text, media_type) = fetch(&specifier).await?;
                    if found != specifier {
                        // A redirect must land on an allowed host too.
                        permissions
                            .check_specifier(&found, CheckSpecifierKind::Dynamic)
                            .map_err(JsErrorBox::from_err)?;
                    }
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

    fn load_file(&self, specifier: &ModuleSpecifier, json: bool) -> Result<ModuleSource, JsErrorBox> {
        self.permissions
            .check_specifier(specifier, CheckSpecifierKind::Dynamic)
            .map_err(JsErrorBox::from_err)?;
        let path = specifier
            .to_file_path()
            .map_err(|_| JsErrorBox::type_error(format!("Invalid file URL '{specifier}'")))?;
        // Where the path really leads must be readable too (as in the confined filesystem).
        let real = confined_fs::resolve(&path, true);
        if confined_fs::is_server_proc(&path) || confined_fs::is_server_proc(&real) {
            return Err(JsErrorBox::new("PermissionDenied", confined_fs::server_proc_denied(&real).to_string()));
        }
        self.permissions
            .check_open(Cow::Owned(real), OpenAccessKind::Read, Some("import"))
            .map_err(JsErrorBox::from_err)?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| JsErrorBox::generic(format!("Import of '{specifier}' failed: {e}")))?;
        self.module_source(specifier, text.into(), MediaType::from_path(&path), json)
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

/// Downloads a remote module; returns the final URL after redirects.
async fn fetch(specifier: &ModuleSpecifier) -> Result<(ModuleSpecifier, Arc<str>, MediaType), JsErrorBox> {
    let fail = |e: &dyn std::fmt::Display| JsErrorBox::type_error(format!("Import of '{specifier}' failed: {e}"));
    let client = reqwest::Client::builder()
        .user_agent(concat!("mcp-conductor/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(&e))?;
    let response = client
        .get(specifier.as_str())
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| fail(&e))?;
    let found = response.url().clone();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response.text().await.map_err(|e| fail(&e))?;
    let media_type = match content_type {
        Some(ct) => MediaType::from_content_type(&found, &ct),
        None => MediaType::from_specifier(&found),
    };
    Ok((found, text.into(), media_type))
}
