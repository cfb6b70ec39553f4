//! Node services for every worker. deno_node's ops borrow a resolver and a require loader from
//! the op state and panic when they are absent; op callbacks cannot unwind, so a panic there
//! aborted the whole server (`new Buffer(1)` did). The resolver is the packages directory's BYONM
//! one (`crate::packages::resolver`, shared by all workers); the require loader checks every
//! path where it really leads, as the confined filesystem does, and looks for packages only in
//! `<packages>/node_modules`.

use std::borrow::Cow;
use std::path::Path;
use std::rc::Rc;

use deno_core::FastString;
use deno_core::url::Url;
use deno_error::JsErrorBox;
use deno_permissions::{OpenAccessKind, PermissionsContainer};
use deno_resolver::npm::{DenoInNpmPackageChecker, NpmResolver};
use deno_runtime::deno_node::{NodeExtInitServices, NodeRequireLoader};
use node_resolver::errors::PackageJsonLoadError;
use sys_traits::impls::RealSys;

use super::confined_fs::{self, PackagesRule};
use crate::packages::resolver::Resolver;

pub type Services = NodeExtInitServices<DenoInNpmPackageChecker, NpmResolver<RealSys>, RealSys>;

pub fn services(permissions: PermissionsContainer, resolver: std::sync::Arc<Resolver>, packages: PackagesRule) -> Services {
    NodeExtInitServices {
        node_resolver: resolver.node.clone(),
        pkg_json_resolver: resolver.pkg_json.clone(),
        node_require_loader: Rc::new(ConfinedRequireLoader { permissions, packages, resolver }),
        sys: RealSys,
    }
}

/// `require()`'s file access. deno_node skips `ensure_read_permission` when read is fully
/// granted, so `load_text_file_lossy` checks again, on the real path.
struct ConfinedRequireLoader {
    permissions: PermissionsContainer,
    packages: PackagesRule,
    resolver: std::sync::Arc<Resolver>,
}

impl ConfinedRequireLoader {
    fn check(&self, path: &Path) -> Result<(), JsErrorBox> {
        confined_fs::confine(&self.permissions, &self.packages, path, OpenAccessKind::Read, "require()")?;
        Ok(())
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
        Ok(self.resolver.is_maybe_cjs(specifier))
    }

    fn is_maybe_cjs_from_require(&self, specifier: &Url) -> Result<bool, PackageJsonLoadError> {
        self.resolver.cjs.is_maybe_cjs_from_require(specifier, deno_ast::MediaType::from_specifier(specifier))
    }

    /// Only `<packages>/node_modules` (and nested `node_modules` inside it): never the
    /// workspace's or any other ancestor's, where an execution could plant a package for the
    /// next one. User code (`createRequire(import.meta.url)`) gets `<packages>/node_modules`.
    fn resolve_require_node_module_paths(&self, from: &Path) -> Vec<String> {
        let node_modules = &self.resolver.node_modules;
        if from.starts_with(node_modules) {
            deno_runtime::deno_node::default_resolve_require_node_module_paths(from)
                .into_iter()
                .filter(|p| Path::new(p).starts_with(node_modules))
                .collect()
        } else {
            vec![node_modules.display().to_string()]
        }
    }
}
