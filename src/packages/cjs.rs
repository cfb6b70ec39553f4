//! CommonJS export analysis over deno_ast, for the wrappers that let ES modules import CommonJS
//! package files (`import _ from "lodash"`, `import { v4 } from "uuid"`). deno_resolver's own
//! analyzer needs its `deno_ast` feature (which pulls in deno_graph); this one is what Deno's
//! standalone runtime does, plus a process-wide cache: a package file is parsed once per server
//! (keyed by its content), not once per execution.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use deno_ast::MediaType;
use deno_core::url::Url;
use deno_error::JsErrorBox;
use node_resolver::analyze::{CjsAnalysis, CjsAnalysisExports, CjsCodeAnalyzer, EsmAnalysisMode};

use super::resolver::Tracker;

pub struct Analyzer {
    cjs: Arc<Tracker>,
    /// Canonical `<packages>/node_modules`: the only files it reads itself (re-exported modules).
    node_modules: PathBuf,
}

/// What the analysis of one file's content found.
#[derive(Clone)]
enum Found {
    Cjs(CjsAnalysisExports),
    /// An ES module, with its runtime exports when they were asked for.
    Esm(Option<CjsAnalysisExports>),
}

/// (file, mode asked, hash of its content) → analysis.
static CACHE: LazyLock<Mutex<HashMap<(Url, bool, u64), Found>>> = LazyLock::new(Default::default);

fn content_key(source: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    source.hash(&mut hasher);
    hasher.finish()
}

fn empty() -> CjsAnalysisExports {
    CjsAnalysisExports { exports: vec![], reexports: vec![], member_reexports: vec![] }
}

impl Analyzer {
    pub fn new(cjs: Arc<Tracker>, node_modules: PathBuf) -> Analyzer {
        Analyzer { cjs, node_modules }
    }

    /// The source of a re-exported module, read only when it really lies in node_modules.
    fn read_package_file(&self, specifier: &Url) -> Option<String> {
        let path = specifier.to_file_path().ok()?;
        let real = std::fs::canonicalize(path).ok()?;
        real.starts_with(&self.node_modules).then(|| std::fs::read_to_string(real).ok()).flatten()
    }

    fn analyze(&self, specifier: &Url, source: &str, media_type: MediaType, want_esm_exports: bool) -> Result<Found, JsErrorBox> {
        let maybe_cjs = self.cjs.is_maybe_cjs(specifier, media_type).map_err(JsErrorBox::from_err)?;
        if (!maybe_cjs && !want_esm_exports) || source.contains('\0') {
            return Ok(Found::Esm(want_esm_exports.then(empty)));
        }
        let text = source.strip_prefix('\u{FEFF}').unwrap_or(source);
        // Packages are the admin's, but their text is still parsed by swc: bounded like the rest.
        let (is_script, cjs_exports, esm_exports) = crate::sandbox::nesting::on_parser_stack(|| {
            crate::sandbox::check_nesting(text, specifier, media_type).map_err(|e| JsErrorBox::generic(e.0))?;
            let parsed = deno_ast::parse_program(deno_ast::ParseParams {
                specifier: specifier.clone(),
                text: text.into(),
                media_type,
                capture_tokens: true,
                scope_analysis: false,
                maybe_syntax: None,
            })
            .map_err(JsErrorBox::from_err)?;
            let cjs_exports = maybe_cjs.then(|| parsed.analyze_cjs());
            let esm_exports = want_esm_exports.then(|| parsed.analyze_es_runtime_exports());
            Ok::<_, JsErrorBox>((parsed.compute_is_script(), cjs_exports, esm_exports))
        })
        .unwrap_or_else(|panic| Err(JsErrorBox::generic(panic.message(specifier))))?;
        let is_cjs = maybe_cjs
            && self
                .cjs
                .is_cjs_with_known_is_script(specifier, media_type, is_script)
                .map_err(JsErrorBox::from_err)?;
        if maybe_cjs {
            self.cjs.set_is_known_script(specifier, is_cjs);
        }
        let exports = |a: deno_ast::ModuleExportsAndReExports| CjsAnalysisExports {
            exports: a.exports,
            reexports: a.reexports,
            member_reexports: vec![],
        };
        Ok(match (is_cjs, cjs_exports) {
            (true, Some(cjs)) => Found::Cjs(exports(cjs)),
            _ => Found::Esm(esm_exports.map(exports)),
        })
    }
}

#[async_trait::async_trait(?Send)]
impl CjsCodeAnalyzer for Analyzer {
    async fn analyze_cjs<'a>(
        &self,
        specifier: &Url,
        source: Option<Cow<'a, str>>,
        mode: EsmAnalysisMode,
    ) -> Result<CjsAnalysis<'a>, JsErrorBox> {
        let source: Cow<'a, str> = match source {
            Some(source) => source,
            None => match self.read_package_file(specifier) {
                Some(text) => Cow::Owned(text),
                None => return Ok(CjsAnalysis::Cjs(empty())),
            },
        };
        let media_type = MediaType::from_specifier(specifier);
        if media_type == MediaType::Json {
            return Ok(CjsAnalysis::Cjs(empty()));
        }
        let want_esm_exports = mode == EsmAnalysisMode::SourceImportsAndExports;
        let key = (specifier.clone(), want_esm_exports, content_key(&source));
        let cached = CACHE.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
        let found = match cached {
            Some(found) => {
                // The tracker is per resolver instance: tell it what the cache knows.
                if self.cjs.is_maybe_cjs(specifier, media_type).unwrap_or(false) {
                    self.cjs.set_is_known_script(specifier, matches!(found, Found::Cjs(_)));
                }
                found
            }
            None => {
                let found = self.analyze(specifier, &source, media_type, want_esm_exports)?;
                CACHE.lock().unwrap_or_else(|e| e.into_inner()).insert(key, found.clone());
                found
            }
        };
        Ok(match found {
            Found::Cjs(exports) => CjsAnalysis::Cjs(exports),
            Found::Esm(exports) => CjsAnalysis::Esm(source, exports),
        })
    }

    async fn analyze_cjs_member_props<'a>(
        &self,
        _specifier: &Url,
        _source: Option<Cow<'a, str>>,
        _member: &str,
    ) -> Result<Option<Vec<String>>, JsErrorBox> {
        Ok(None)
    }
}
