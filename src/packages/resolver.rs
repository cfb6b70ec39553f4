//! Resolving package specifiers in the packages directory with deno_resolver's BYONM resolver
//! (as Deno's standalone runtime does: `root_node_modules_dir` = `<packages>/node_modules`,
//! `search_stop_dir` = `<packages>`), and the CommonJS → ESM translation of package files.
//!
//! Built once per version of the packages directory (see [`super::Manifest`]) and shared by every
//! worker thread (under deno_runtime's `sync` feature the resolvers are `Arc`s and `Send + Sync`).
//! Their caches are off or per instance: a reinstall gets a new instance, never stale answers.
//!
//! Resolution never looks at the workspace: BYONM walks a referrer's ancestors for
//! `node_modules`, so a specifier from user code is resolved from a synthetic referrer inside
//! `<packages>`, and `npm:` references are looked up in `<packages>/node_modules` directly
//! (deno_resolver's own `npm:` lookup walks up to `/`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use deno_ast::MediaType;
use deno_core::url::Url;
use deno_resolver::cjs::{CjsTracker, IsCjsResolutionMode};
use deno_resolver::npm::{
    ByonmNpmResolverCreateOptions, CreateInNpmPkgCheckerOptions, DenoInNpmPackageChecker, NpmResolver,
    NpmResolverCreateOptions,
};
use node_resolver::analyze::{CjsModuleExportAnalyzer, NodeCodeTranslator, NodeCodeTranslatorMode};
use node_resolver::cache::NodeResolutionSys;
use node_resolver::{
    DenoIsBuiltInNodeModuleChecker, NodeResolution, NodeResolutionKind, NodeResolver, NodeResolverOptions,
    PackageJsonResolver, PackageJsonResolverRc, ResolutionMode,
};
use sys_traits::impls::RealSys;

use super::cjs::Analyzer;

pub type Npm = NpmResolver<RealSys>;
pub type NodeRes = NodeResolver<DenoInNpmPackageChecker, DenoIsBuiltInNodeModuleChecker, Npm, RealSys>;
pub type Tracker = CjsTracker<DenoInNpmPackageChecker, RealSys>;
type Translator = NodeCodeTranslator<Analyzer, DenoInNpmPackageChecker, DenoIsBuiltInNodeModuleChecker, Npm, RealSys>;

/// Name of the synthetic referrer inside `<packages>` that user code's specifiers resolve from.
const USER_REFERRER: &str = "__mcp_conductor_user_code__.js";

pub struct Resolver {
    /// Canonical `<packages>`.
    pub dir: PathBuf,
    /// Canonical `<packages>/node_modules`.
    pub node_modules: PathBuf,
    pub pkg_json: PackageJsonResolverRc<RealSys>,
    pub npm: Npm,
    pub node: Arc<NodeRes>,
    pub cjs: Arc<Tracker>,
    translator: Arc<Translator>,
}

const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Resolver>();
};

impl Resolver {
    pub fn new(dir: &Path, node_modules: &Path) -> Resolver {
        let (dir, node_modules) = (dir.to_path_buf(), node_modules.to_path_buf());
        let pkg_json = PackageJsonResolverRc::new(PackageJsonResolver::new(RealSys, None));
        let sys = NodeResolutionSys::new(RealSys, None);
        let checker = DenoInNpmPackageChecker::new(CreateInNpmPkgCheckerOptions::Byonm);
        let npm = Npm::new::<RealSys>(NpmResolverCreateOptions::Byonm(ByonmNpmResolverCreateOptions {
            root_node_modules_dir: Some(node_modules.clone()),
            search_stop_dir: Some(dir.clone()),
            sys: sys.clone(),
            pkg_json_resolver: pkg_json.clone(),
        }));
        let node = Arc::new(NodeRes::new(
            checker.clone(),
            DenoIsBuiltInNodeModuleChecker,
            npm.clone(),
            pkg_json.clone(),
            sys,
            NodeResolverOptions::default(),
        ));
        // Disabled: files outside node_modules are ESM; inside, package.json "type" decides.
        let cjs = Arc::new(Tracker::new(checker.clone(), pkg_json.clone(), IsCjsResolutionMode::Disabled, vec![]));
        let analyzer = CjsModuleExportAnalyzer::new(
            Analyzer::new(cjs.clone(), node_modules.clone()),
            checker,
            node.clone(),
            npm.clone(),
            pkg_json.clone(),
            RealSys,
        );
        let translator = Arc::new(NodeCodeTranslator::new(Arc::new(analyzer), NodeCodeTranslatorMode::ModuleLoader));
        Resolver { dir, node_modules, pkg_json, npm, node, cjs, translator }
    }

    fn user_referrer(&self) -> Url {
        Url::from_file_path(self.dir.join(USER_REFERRER)).expect("the packages directory is absolute")
    }

    /// Whether a file URL lies inside the packages directory's `node_modules` (package code).
    pub fn is_package_file(&self, url: &Url) -> bool {
        url.scheme() == "file" && url.to_file_path().is_ok_and(|p| p.starts_with(&self.node_modules))
    }

    /// The entry of an installed package (its folder already checked by the caller), for an
    /// optional subpath, through `exports` (conditions deno, node, import) or `main`.
    pub fn package_entry(&self, package_dir: &Path, sub_path: Option<&str>) -> Result<Url, String> {
        self.node
            .resolve_package_subpath_from_deno_module(
                package_dir,
                sub_path,
                Some(&self.user_referrer()),
                ResolutionMode::Import,
                NodeResolutionKind::Execution,
            )
            .map_err(|e| e.to_string())?
            .into_url()
            .map_err(|e| e.to_string())
    }

    /// A specifier imported by package code (relative, bare, `#imports`, built-ins), with Node's
    /// rules. `Ok(None)`: a Node built-in (the caller maps it to `node:`).
    pub fn resolve_from_package(&self, specifier: &str, referrer: &Url) -> Result<Url, String> {
        let mode = if self.cjs.is_maybe_cjs(referrer, MediaType::from_specifier(referrer)).unwrap_or(false) {
            ResolutionMode::Require
        } else {
            ResolutionMode::Import
        };
        match self.node.resolve(specifier, referrer, mode, NodeResolutionKind::Execution) {
            Ok(NodeResolution::BuiltIn(name)) => Url::parse(&format!("node:{name}")).map_err(|e| e.to_string()),
            Ok(NodeResolution::Module(found)) => found.into_url().map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Whether `specifier` (a file in node_modules) is CommonJS and must be wrapped.
    pub fn is_maybe_cjs(&self, specifier: &Url) -> bool {
        self.cjs.is_maybe_cjs(specifier, MediaType::from_specifier(specifier)).unwrap_or(false)
    }

    /// The ES module for a package file: itself when it is ESM, else a wrapper that `require`s it
    /// and re-exports what static analysis finds.
    pub async fn to_esm(&self, specifier: &Url, source: String) -> Result<String, String> {
        self.translator
            .translate_cjs_to_esm(specifier, Some(source.into()))
            .await
            .map(|code| code.into_owned())
            .map_err(|e| e.to_string())
    }
}
