//! Node services for every worker. deno_node's ops borrow a resolver and a require loader from
//! the op state and panic when they are absent; op callbacks cannot unwind, so a panic there
//! aborted the whole server (`new Buffer(1)` did). There are no npm packages (yet): the resolver
//! is an empty BYONM one (no `node_modules`), and the require loader checks every path where it
//! really leads, as the confined filesystem does.

use std::borrow::Cow;
use std::path::Path;
use std::rc::Rc;

use deno_core::FastString;
use deno_core::url::Url;
use deno_error::JsErrorBox;
use deno_permissions::{OpenAccessKind, PermissionsContainer};
use deno_resolver::npm::{
    ByonmNpmResolverCreateOptions, CreateInNpmPkgCheckerOptions, DenoInNpmPackageChecker, NpmResolver,
    NpmResolverCreateOptions,
};
use deno_runtime::deno_node::{NodeExtInitServices, NodeRequireLoader};
use node_resolver::cache::NodeResolutionSys;
use node_resolver::errors::PackageJsonLoadError;
use node_resolver::{DenoIsBuiltInNodeModuleChecker, NodeResolver, NodeResolverOptions, PackageJsonResolver};
use sys_traits::impls::RealSys;

use super::confined_fs;

pub type Services = NodeExtInitServices<DenoInNpmPackageChecker, NpmResolver<RealSys>, RealSys>;

pub fn services(permissions: PermissionsContainer) -> Services {
    let pkg_json_resolver = node_resolver::PackageJsonResolverRc::new(PackageJsonResolver::new(RealSys, None));
    let npm_resolver = NpmResolver::<RealSys>::new::<RealSys>(NpmResolverCreateOptions::Byonm(
        ByonmNpmResolverCreateOptions {
            root_node_modules_dir: None,
            search_stop_dir: None,
            sys: NodeResolutionSys::new(RealSys, None),
            pkg_json_resolver: pkg_json_resolver.clone(),
        },
    ));
    let node_resolver = deno_runtime::deno_node::NodeResolverRc::new(NodeResolver::new(
        DenoInNpmPackageChecker::new(CreateInNpmPkgCheckerOptions::Byonm),
        DenoIsBuiltInNodeModuleChecker,
        npm_resolver,
        pkg_json_resolver.clone(),
        NodeResolutionSys::new(RealSys, None),
        NodeResolverOptions::default(),
    ));
    NodeExtInitServices {
        node_require_loader: Rc::new(ConfinedRequireLoader { permissions }),
        node_resolver,
        pkg_json_resolver,
        sys: RealSys,
    }
}

/// `require()`'s file access. deno_node skips `ensure_read_permission` when read is fully
/// granted, so `load_text_file_lossy` checks again, on the real path.
struct ConfinedRequireLoader {
    permissions: PermissionsContainer,
}

impl ConfinedRequireLoader {
    fn check(&self, path: &Path) -> Result<(), JsErrorBox> {
        let real = confined_fs::resolve(path, true);
        if confined_fs::is_server_proc(path) || confined_fs::is_server_proc(&real) {
            return Err(JsErrorBox::new("PermissionDenied", confined_fs::server_proc_denied(&real).to_string()));
        }
        self.permissions
            .check_open(Cow::Owned(real), OpenAccessKind::Read, Some("require()"))
            .map(drop)
            .map_err(JsErrorBox::from_err)
    }
}

impl NodeRequireLoader for ConfinedRequireLoader {
    fn ensure_read_permission<'a>(
        &self,
        _permissions: &mut PermissionsContainer,
        path: Cow<'a, Path>,
    ) -> Result<Cow<'a, Path>, JsErrorBox> {
        self.check(&path)?;
        Ok(path)
    }

    fn load_text_file_lossy(&self, path: &Path) -> Result<FastString, JsErrorBox> {
        self.check(path)?;
        let bytes = std::fs::read(path).map_err(JsErrorBox::from_err)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned().into())
    }

    fn is_maybe_cjs(&self, specifier: &Url) -> Result<bool, PackageJsonLoadError> {
        let path = specifier.path();
        Ok(path.ends_with(".cjs") || path.ends_with(".js"))
    }

    fn is_maybe_cjs_from_require(&self, specifier: &Url) -> Result<bool, PackageJsonLoadError> {
        Ok(!specifier.path().ends_with(".mjs"))
    }
}
