//! RunArgs → Deno permissions, validated item by item at startup so a bad value is reported
//! with the item that holds it. Each execution gets a fresh container (containers share state
//! when cloned).

use std::sync::Arc;

use deno_permissions::{
    AllowRunDescriptorParseResult, PermissionDescriptorParser, Permissions, PermissionsContainer,
    PermissionsOptions, RuntimePermissionDescriptorParser,
};
use sys_traits::impls::RealSys;

use crate::run_args::{Grant, Kind, RunArgs, RunArgsError};

pub struct PermissionSet {
    parser: Arc<RuntimePermissionDescriptorParser<RealSys>>,
    permissions: Permissions,
}

impl PermissionSet {
    /// Relative paths resolve against the process's current directory (the workspace).
    pub fn new(args: &RunArgs) -> Result<Self, RunArgsError> {
        let parser = Arc::new(RuntimePermissionDescriptorParser::new(RealSys));
        validate_items(parser.as_ref(), args)?;
        let permissions = Permissions::from_options(parser.as_ref(), &with_real_paths(options(args))).map_err(|e| {
            RunArgsError { item: args.flags().join(","), reason: e.to_string() }
        })?;
        Ok(Self { parser, permissions })
    }

    pub fn container(&self) -> PermissionsContainer {
        PermissionsContainer::new(self.parser.clone(), self.permissions.clone())
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
