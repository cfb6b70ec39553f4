//! RunArgs → Deno permissions, validated item by item at startup so a bad value is reported
//! with the item that holds it. Each execution gets a fresh container (containers share state
//! when cloned).

use std::path::PathBuf;
use std::sync::Arc;

use deno_permissions::{
    AllowRunDescriptorParseResult, PermissionDescriptorParser, Permissions, PermissionsContainer,
    PermissionsOptions, RuntimePermissionDescriptorParser,
};
use sys_traits::impls::RealSys;

use super::confined_fs;
use crate::run_args::{Grant, Kind, RunArgs, RunArgsError};

pub struct PermissionSet {
    parser: Arc<RuntimePermissionDescriptorParser<RealSys>>,
    permissions: Permissions,
}

impl PermissionSet {
    /// Relative paths resolve against the process's current directory (the workspace).
    /// `server_owned` files are denied to code whatever the grants (see [`ServerOwned`]).
    pub fn new(args: &RunArgs, server_owned: &ServerOwned) -> Result<Self, RunArgsError> {
        let parser = Arc::new(RuntimePermissionDescriptorParser::new(RealSys));
        validate_items(parser.as_ref(), args)?;
        let options = server_owned.deny_in(with_real_paths(options(args)));
        let permissions = Permissions::from_options(parser.as_ref(), &options).map_err(|e| {
            RunArgsError { item: args.flags().join(","), reason: e.to_string() }
        })?;
        Ok(Self { parser, permissions })
    }

    pub fn container(&self) -> PermissionsContainer {
        PermissionsContainer::new(self.parser.clone(), self.permissions.clone())
    }
}

/// Files the server itself reads or writes (the upstream MCP config, whose `command`s it runs
/// and whose `env`/`headers` hold secrets; later token files, the packages directory...).
/// They go on the deny-read and deny-write lists, by the given path and by the path it really
/// leads to, so no grant (`allow-read`, `allow-write`, all files) reaches them. One mechanism for
/// every such path: add it here.
#[derive(Debug, Clone, Default)]
pub struct ServerOwned(Vec<PathBuf>);

impl ServerOwned {
    pub fn add(&mut self, path: impl Into<PathBuf>) {
        let path = path.into();
        let real = confined_fs::resolve(&path, true);
        for p in [path, real] {
            if p.is_absolute() && !self.0.contains(&p) {
                self.0.push(p);
            }
        }
    }

    /// `add`, and when the file sits in a Kubernetes ConfigMap/Secret volume (a `..data` link
    /// next to it), the whole volume: the kubelet updates it by swapping in a new timestamped
    /// directory, which the paths known at startup would not cover.
    pub fn add_with_projected_volume(&mut self, file: impl Into<PathBuf>) {
        let file = file.into();
        if let Some(dir) = file.parent()
            && dir.join("..data").exists()
        {
            self.add(dir);
        }
        self.add(file);
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.0
    }

    fn deny_in(&self, mut options: PermissionsOptions) -> PermissionsOptions {
        if self.0.is_empty() {
            return options; // `Some(vec![])` would mean "deny everything"
        }
        let listed: Vec<String> = self.0.iter().map(|p| p.display().to_string()).collect();
        for list in [&mut options.deny_read, &mut options.deny_write] {
            if list.as_ref().is_some_and(Vec::is_empty) {
                continue; // the admin denied all of that kind already
            }
            let list = list.get_or_insert_with(Vec::new);
            for p in &listed {
                if !list.contains(p) {
                    list.push(p.clone());
                }
            }
        }
        options
    }
}

fn options(args: &RunArgs) -> PermissionsOptions {
    let allow = |k| Grant::to_option(args.allow.get(&k));
    let deny = |k| Grant::to_option(args.deny.get(&k));
    PermissionsOptions {
        allow_env: allow(Kind::Env),
        deny_env: deny(Kind::Env),
        ignore_env: None,
        allow_net: allow(Kind::Net),
        deny_net: deny(Kind::Net),
        allow_ffi: allow(Kind::Ffi),
        deny_ffi: deny(Kind::Ffi),
        allow_read: allow(Kind::Read),
        deny_read: deny(Kind::Read),
        ignore_read: None,
        allow_run: allow(Kind::Run),
        deny_run: deny(Kind::Run),
        allow_sys: allow(Kind::Sys),
        deny_sys: deny(Kind::Sys),
        allow_write: allow(Kind::Write),
        deny_write: deny(Kind::Write),
        allow_import: allow(Kind::Import),
        deny_import: deny(Kind::Import),
        prompt: false,
    }
}

/// Adds the symlink-resolved form of every listed path that has one. The sandbox's filesystem
/// also checks where a path really leads (`confined_fs.rs`), so an admin's
/// `allow-read=/home/me/link-to-data` must cover the real directory too; a `deny-` entry then
/// covers both names as well.
fn with_real_paths(mut options: PermissionsOptions) -> PermissionsOptions {
    for list in [
        &mut options.allow_read,
        &mut options.deny_read,
        &mut options.allow_write,
        &mut options.deny_write,
        &mut options.allow_ffi,
        &mut options.deny_ffi,
    ]
    .into_iter()
    .flatten()
    {
        let real: Vec<String> =
            list.iter().filter_map(|p| std::fs::canonicalize(p).ok()).map(|p| p.display().to_string()).collect();
        for path in real {
            if !list.contains(&path) {
                list.push(path);
            }
        }
    }
    options
}

/// Parses every listed value on its own, so the error names the exact item.
fn validate_items(parser: &dyn PermissionDescriptorParser, args: &RunArgs) -> Result<(), RunArgsError> {
    for (prefix, map) in [("allow", &args.allow), ("deny", &args.deny)] {
        for (kind, grant) in map {
            let Grant::Only(values) = grant else { continue };
            for value in values {
                let item = format!("{prefix}-{}={value}", kind.name());
                let fail = |reason: String| RunArgsError { item: item.clone(), reason };
                if prefix == "allow" && *kind == Kind::Run {
                    // Deno drops commands it cannot find with only a log line; we refuse them.
                    match parser.parse_allow_run_descriptor(value).map_err(|e| fail(e.to_string()))? {
                        AllowRunDescriptorParseResult::Descriptor(_) => {}
                        AllowRunDescriptorParseResult::Unresolved(e) => {
                            return Err(fail(format!("command not found: {e}")));
                        }
                    }
                    continue;
                }
                let mut single = RunArgs::default();
                let target = if prefix == "allow" { &mut single.allow } else { &mut single.deny };
                target.insert(*kind, Grant::Only(vec![value.clone()]));
                Permissions::from_options(parser, &options(&single)).map_err(|e| fail(e.to_string()))?;
            }
        }
    }
    Ok(())
}
