//! Playbooks shipped inside the binary (`js/playbooks/`), installed into PLAYBOOKS_DIR at
//! startup when their folder is missing. An existing folder is never touched, so a user's
//! edits survive restarts. Nothing is printed: the log goes to stderr.

use std::path::Path;

use super::store::{MD, TS};

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

/// Installs the default playbooks whose folder does not exist yet; returns the installed names.
pub fn install(dir: &Path) -> std::io::Result<Vec<&'static str>> {
    std::fs::create_dir_all(dir)?;
    let mut installed = Vec::new();
    for default in DEFAULTS {
        let folder = dir.join(default.folder);
        if folder.exists() {
            continue;
        }
        // Written under a temporary name and renamed, so a crash never leaves half a playbook
        // that would then count as the user's copy.
        let tmp = dir.join(format!(".{}.installing.{}", default.folder, crate::unique::unique_suffix()));
        std::fs::create_dir_all(&tmp)?;
        std::fs::write(tmp.join(MD), default.md)?;
        if let Some(ts) = default.ts {
            std::fs::write(tmp.join(TS), ts)?;
        }
        match std::fs::rename(&tmp, &folder) {
            Ok(()) => installed.push(default.folder),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                // Another server may have installed it at the same moment.
                if !folder.exists() {
                    return Err(e);
                }
            }
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
}
