//! Playbooks shipped inside the binary (`js/playbooks/`), installed into PLAYBOOKS_DIR at
//! startup when their folder is missing, and refreshed after an upgrade when the user has not
//! changed them: each installed folder records a fingerprint of what was shipped
//! ([`SHIPPED`]); a folder whose playbook still matches it is replaced by this binary's version,
//! one the user edited (or overwrote with `create_playbook`) is never touched. Nothing is
//! printed: the log goes to stderr.

use std::path::Path;

use super::store::{MD, TS};

/// The fingerprint of the shipped playbook.md + playbook.ts, in the folder as installed. Code
/// cannot write it (the playbooks directory is never writable to code), and it is never
/// importable (only .ts/.mts/.js/.mjs/.json are).
const SHIPPED: &str = ".shipped";

struct Default {
    folder: &'static str,
    md: &'static str,
    ts: Option<&'static str>,
}

/// In name order (the order `list_playbooks` shows). `http-utilities`, `mcp-conductor-guide` and
/// `playbook-creator` are the original product's defaults; `http-helper` is ours.
const DEFAULTS: &[Default] = &[
    Default {
        folder: "http-helper",
        md: include_str!("../../js/playbooks/http-helper/playbook.md"),
        ts: Some(include_str!("../../js/playbooks/http-helper/playbook.ts")),
    },
    Default {
        folder: "http-utilities",
        md: include_str!("../../js/playbooks/http-utilities/playbook.md"),
        ts: Some(include_str!("../../js/playbooks/http-utilities/playbook.ts")),
    },
    Default {
        folder: "mcp-conductor-guide",
        md: include_str!("../../js/playbooks/mcp-conductor-guide/playbook.md"),
        ts: None,
    },
    Default {
        folder: "playbook-creator",
        md: include_str!("../../js/playbooks/playbook-creator/playbook.md"),
        ts: Some(include_str!("../../js/playbooks/playbook-creator/playbook.ts")),
    },
];

/// FNV-1a 64 of playbook.md, a separator, and playbook.ts (stable across Rust versions, unlike
/// std's hasher; this detects edits, it is not a security boundary).
fn fingerprint(md: &str, ts: Option<&str>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in md.bytes().chain([0u8, u8::from(ts.is_some())]).chain(ts.unwrap_or_default().bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// What the folder holds now, fingerprinted like a shipped version.
fn current_fingerprint(folder: &Path) -> Option<String> {
    let md = std::fs::read_to_string(folder.join(MD)).ok()?;
    let ts = match std::fs::read_to_string(folder.join(TS)) {
        Ok(ts) => Some(ts),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(_) => return None,
    };
    Some(fingerprint(&md, ts.as_deref()))
}

/// Installs the default playbooks whose folder does not exist yet, and replaces those an older
/// binary installed and nobody changed since; returns the names it wrote.
pub fn install(dir: &Path) -> std::io::Result<Vec<&'static str>> {
    std::fs::create_dir_all(dir)?;
    let mut installed = Vec::new();
    for default in DEFAULTS {
        let folder = dir.join(default.folder);
        let shipped = fingerprint(default.md, default.ts);
        if folder.exists() {
            let recorded = std::fs::read_to_string(folder.join(SHIPPED)).ok();
            let current = current_fingerprint(&folder);
            let unchanged_since_install = recorded.is_some() && recorded == current;
            if current.as_deref() == Some(shipped.as_str()) {
                // Up to date; from before fingerprints, it gets one so a later upgrade refreshes it.
                if recorded.as_deref() != Some(shipped.as_str()) {
                    let _ = std::fs::write(folder.join(SHIPPED), &shipped);
                }
                continue;
            }
            if !unchanged_since_install {
                // The user's own version (edited, or from before fingerprints).
                continue;
            }
        }
        // Written under a temporary name and moved into place in one step, so a crash never
        // leaves half a playbook that would then count as the user's copy.
        let tmp = dir.join(format!(".{}.installing.{}", default.folder, crate::unique::unique_suffix()));
        std::fs::create_dir_all(&tmp)?;
        std::fs::write(tmp.join(MD), default.md)?;
        if let Some(ts) = default.ts {
            std::fs::write(tmp.join(TS), ts)?;
        }
        std::fs::write(tmp.join(SHIPPED), &shipped)?;
        let placed = if folder.exists() {
            super::store::exchange(&tmp, &folder)
        } else {
            std::fs::rename(&tmp, &folder)
        };
        let _ = std::fs::remove_dir_all(&tmp);
        match placed {
            Ok(()) => installed.push(default.folder),
            // Another server may have installed it at the same moment.
            Err(_) if folder.exists() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbooks::store::{ListedState, Store};

    #[test]
    fn defaults_parse_and_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let folders: Vec<&str> = DEFAULTS.iter().map(|d| d.folder).collect();
        assert_eq!(folders, ["http-helper", "http-utilities", "mcp-conductor-guide", "playbook-creator"]);
        assert_eq!(install(dir.path()).unwrap(), folders);
        let store = Store::new(dir.path().to_path_buf());
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), DEFAULTS.len());
        for listed in listed {
            match &listed.state {
                ListedState::Ok { source, has_code, .. } => {
                    assert_eq!(*source, crate::playbooks::frontmatter::Source::System, "{listed:?}");
                    let default = DEFAULTS.iter().find(|d| d.folder == listed.folder).unwrap();
                    assert_eq!(*has_code, default.ts.is_some(), "{listed:?}");
                }
                ListedState::Broken { .. } => panic!("{listed:?}"),
            }
        }
        for default in DEFAULTS.iter().filter(|d| d.ts.is_some()) {
            let code = store.get(default.folder).unwrap().code.unwrap();
            let url = crate::playbooks::store::module_url(default.folder).parse().unwrap();
            crate::sandbox::transpile_module(code.into(), &url, deno_ast::MediaType::TypeScript)
                .unwrap_or_else(|e| panic!("{}: {}", default.folder, e.0));
        }
        std::fs::write(dir.path().join("http-helper/playbook.md"), "edited").unwrap();
        assert!(install(dir.path()).unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(dir.path().join("http-helper/playbook.md")).unwrap(), "edited");
    }

    /// After an upgrade: a folder an older binary installed and nobody changed gets this
    /// version; an edited one, or one from before fingerprints, stays.
    #[test]
    fn unchanged_defaults_are_refreshed_on_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let plant = |folder: &str, md: &str, ts: Option<&str>, recorded: Option<&str>| {
            let path = dir.path().join(folder);
            std::fs::create_dir_all(&path).unwrap();
            std::fs::write(path.join(MD), md).unwrap();
            if let Some(ts) = ts {
                std::fs::write(path.join(TS), ts).unwrap();
            }
            std::fs::write(path.join("util.ts"), "export const kept = 1;").unwrap();
            if let Some(recorded) = recorded {
                std::fs::write(path.join(SHIPPED), recorded).unwrap();
            }
        };
        let old_md = "---\nname: old\n---\nold guide";
        // Installed by an older binary, untouched since.
        plant("mcp-conductor-guide", old_md, None, Some(&fingerprint(old_md, None)));
        // Installed by an older binary, then edited.
        plant("http-helper", "my own", Some("export {}"), Some(&fingerprint(old_md, None)));
        // From before fingerprints.
        plant("http-utilities", old_md, Some("export {}"), None);
        let written = install(dir.path()).unwrap();
        assert_eq!(written, ["mcp-conductor-guide", "playbook-creator"]);
        let read = |p: &str| std::fs::read_to_string(dir.path().join(p)).unwrap();
        let guide = DEFAULTS.iter().find(|d| d.folder == "mcp-conductor-guide").unwrap();
        assert_eq!(read("mcp-conductor-guide/playbook.md"), guide.md);
        assert_eq!(read("http-helper/playbook.md"), "my own");
        assert_eq!(read("http-utilities/playbook.md"), old_md);
        // The refreshed folder is the shipped one, whole (no stale sibling files).
        assert!(!dir.path().join("mcp-conductor-guide/util.ts").exists());
        assert!(install(dir.path()).unwrap().is_empty(), "up to date: nothing written");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().filter(|e| {
            e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.')
        });
        assert_eq!(leftovers.count(), 0, "no temporary folders left");
    }
}
