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
    packages: confined_fs::PackagesRule,
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
        let packages = server_owned.packages_rule().clone().with_protected(server_owned.protected());
        Ok(Self { parser, permissions, packages })
    }

    pub fn packages_rule(&self) -> &confined_fs::PackagesRule {
        &self.packages
    }

    pub fn container(&self) -> PermissionsContainer {
        PermissionsContainer::new(self.parser.clone(), self.permissions.clone())
    }
}

/// Files the server itself reads or writes (the upstream MCP config, whose `command`s it runs
/// and whose `env`/`headers` hold secrets; token files, the packages directory, the playbooks
/// directory, the large results...). They go on the deny-read and deny-write lists, by the given
/// path and by the path it really leads to, so no grant (`allow-read`, `allow-write`, all files)
/// reaches them; and no directory above one of them may be renamed, removed or re-moded by code
/// (`confined_fs::PackagesRule::check_not_above`), which would carry it out of the lists' reach.
/// The addresses the HTTP server listens on go on the deny-net (and deny-import) list the same
/// way. One mechanism for every such path and address: add it here.
#[derive(Debug, Clone, Default)]
pub struct ServerOwned {
    /// Denied to read and to write.
    hidden: Vec<PathBuf>,
    /// Denied to write only (the packages directory: reads follow [`confined_fs::PackagesRule`]).
    write_denied: Vec<PathBuf>,
    /// Readable by every execution, whatever `allow-read` says (`<packages>/node_modules`).
    readable: Vec<PathBuf>,
    packages: confined_fs::PackagesRule,
    /// `host:port` net descriptors code may never connect to nor import from (the server's own
    /// listening addresses in every form).
    net_denied: Vec<String>,
}

/// `path` and the path it really leads to (absolute ones), added to `list` once.
fn push_both(list: &mut Vec<PathBuf>, path: PathBuf) {
    let real = confined_fs::resolve(&path, true);
    for p in [path, real] {
        if p.is_absolute() && !list.contains(&p) {
            list.push(p);
        }
    }
}

impl ServerOwned {
    pub fn add(&mut self, path: impl Into<PathBuf>) {
        push_both(&mut self.hidden, path.into());
    }

    /// Denied to write only (the import map: code may read it).
    pub fn add_write_only(&mut self, path: impl Into<PathBuf>) {
        push_both(&mut self.write_denied, path.into());
    }

    /// The packages directory: never writable, readable below `node_modules` by every
    /// execution (package code and its data files), nothing else in it readable.
    pub fn add_packages(&mut self, dir: &std::path::Path, node_modules: &std::path::Path) {
        push_both(&mut self.write_denied, dir.to_path_buf());
        push_both(&mut self.readable, node_modules.to_path_buf());
        self.packages = confined_fs::PackagesRule::new(dir, node_modules);
    }

    pub fn packages_rule(&self) -> &confined_fs::PackagesRule {
        &self.packages
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

    /// Paths denied to read and write.
    pub fn paths(&self) -> &[PathBuf] {
        &self.hidden
    }

    /// Denies code connections to (and imports from) `host:port`, whatever `allow-net` and
    /// `allow-import` say. `host` may be a name, an IP address (IPv6 in brackets) or an IPv4
    /// subnet (`127.0.0.0/8`). Deno checks IP entries again against the address a name resolves
    /// to when it connects (fetch, WebSocket, `Deno.connect`, `node:net`...), so a DNS alias of a
    /// denied address is refused too. An entry Deno cannot parse is dropped with a warning.
    pub fn deny_net(&mut self, host_port: impl Into<String>) {
        let entry = host_port.into();
        if deno_permissions::NetDescriptor::parse_for_list(&entry).is_err() {
            tracing::warn!("not a net address Deno can deny, skipped: {entry}");
            return;
        }
        if !self.net_denied.contains(&entry) {
            self.net_denied.push(entry);
        }
    }

    /// Addresses denied to code ([`ServerOwned::deny_net`]).
    pub fn net_denied(&self) -> &[String] {
        &self.net_denied
    }

    /// Every path denied to read or write: no directory above them may be moved or removed.
    fn protected(&self) -> Vec<PathBuf> {
        let mut all = self.hidden.clone();
        for p in &self.write_denied {
            if !all.contains(p) {
                all.push(p.clone());
            }
        }
        all
    }

    fn deny_in(&self, mut options: PermissionsOptions) -> PermissionsOptions {
        let shown = |paths: &[PathBuf]| paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
        let hidden = shown(&self.hidden);
        let write_denied: Vec<String> = hidden.iter().cloned().chain(shown(&self.write_denied)).collect();
        for (list, paths) in [(&mut options.deny_read, &hidden), (&mut options.deny_write, &write_denied)] {
            // `Some(vec![])` would mean "deny everything"; and when the admin denied all of that
            // kind already, there is nothing to add.
            if paths.is_empty() || list.as_ref().is_some_and(Vec::is_empty) {
                continue;
            }
            extend_unique(list.get_or_insert_with(Vec::new), paths);
        }
        // The server's own addresses: not to connect to, not to import from.
        for list in [&mut options.deny_net, &mut options.deny_import] {
            if self.net_denied.is_empty() || list.as_ref().is_some_and(Vec::is_empty) {
                continue;
            }
            extend_unique(list.get_or_insert_with(Vec::new), &self.net_denied);
        }
        let readable = shown(&self.readable);
        if !readable.is_empty() && !options.allow_read.as_ref().is_some_and(Vec::is_empty) {
            // Not when everything is readable already (`Some(vec![])`).
            extend_unique(options.allow_read.get_or_insert_with(Vec::new), &readable);
        }
        options
    }
}

fn extend_unique(list: &mut Vec<String>, paths: &[String]) {
    for p in paths {
        if !list.contains(p) {
            list.push(p.clone());
        }
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
