//! Playbooks on disk: `<PLAYBOOKS_DIR>/<folder>/playbook.md` (+ optional `playbook.ts` and
//! sibling modules). Every path that comes from a request is a validated folder name; module
//! paths are checked to stay inside their folder after resolving symlinks.

use std::path::{Path, PathBuf};

use deno_ast::MediaType;
use deno_core::ModuleSpecifier;
use serde::Serialize;

use super::frontmatter::{self, Meta, Source};

pub const MD: &str = "playbook.md";
pub const TS: &str = "playbook.ts";

/// `^[A-Za-z0-9_-]{1,64}$`
pub fn validate_folder(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid playbook folder name {name:?}: use 1 to 64 letters, digits, '_' or '-' (no paths)"
        ))
    }
}

/// The specifier user code imports a playbook by (`importPlaybook(folder)` uses it).
pub fn module_url(folder: &str) -> String {
    format!("playbook://{folder}/{TS}")
}

pub fn import_line(folder: &str) -> String {
    format!("const pb = await importPlaybook(\"{folder}\");")
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Listed {
    pub folder: String,
    #[serde(flatten)]
    pub state: ListedState,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ListedState {
    Ok {
        name: String,
        description: String,
        tags: Vec<String>,
        has_code: bool,
        source: Source,
    },
    Broken {
        broken: bool,
        error: String,
    },
}

pub struct Playbook {
    pub folder: String,
    pub meta: Meta,
    pub body: String,
    pub code: Option<String>,
}

pub struct NewPlaybook {
    pub folder: String,
    pub meta: Meta,
    pub content: String,
    pub code: Option<String>,
    pub overwrite: bool,
}

#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: PathBuf) -> Store {
        Store { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every folder, in name order; unreadable ones are listed as broken with the reason.
    pub fn list(&self) -> Result<Vec<Listed>, String> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("cannot read {}: {e}", self.dir.display())),
        };
        let mut folders: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.'))
            .collect();
        folders.sort();
        Ok(folders
            .into_iter()
            .map(|folder| {
                let state = match validate_folder(&folder).and_then(|()| self.get(&folder)) {
                    Ok(p) => ListedState::Ok {
                        name: p.meta.name,
                        description: p.meta.description,
                        tags: p.meta.tags,
                        has_code: p.code.is_some(),
                        source: p.meta.source.unwrap_or(Source::User),
                    },
                    Err(error) => ListedState::Broken { broken: true, error },
                };
                Listed { folder, state }
            })
            .collect())
    }

    pub fn get(&self, folder: &str) -> Result<Playbook, String> {
        validate_folder(folder)?;
        let path = self.dir.join(folder);
        let text = match std::fs::read_to_string(path.join(MD)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !path.is_dir() => {
                return Err(format!("no playbook '{folder}' in {}", self.dir.display()));
            }
            Err(e) => return Err(format!("cannot read {folder}/{MD}: {e}")),
        };
        let (meta, body) = frontmatter::parse(&text).map_err(|e| format!("{folder}/{MD}: {e}"))?;
        let code = match std::fs::read_to_string(path.join(TS)) {
            Ok(code) => Some(code),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("cannot read {folder}/{TS}: {e}")),
        };
        Ok(Playbook { folder: folder.to_string(), meta, body, code })
    }

    /// Writes a playbook. Refuses to replace an existing folder unless `overwrite`; checks the
    /// code's syntax first; each file is written to a temp file and renamed into place.
    pub fn create(&self, new: NewPlaybook) -> Result<PathBuf, String> {
        validate_folder(&new.folder)?;
        frontmatter::validate(&new.meta)?;
        if let Some(code) = &new.code {
            check_syntax(&new.folder, code)?;
        }
        let md = frontmatter::render(&new.meta, &new.content)?;
        let folder = self.dir.join(&new.folder);
        if folder.exists() && !new.overwrite {
            return Err(format!(
                "playbook '{}' already exists; pass overwrite: true to replace it",
                new.folder
            ));
        }
        std::fs::create_dir_all(&folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        match &new.code {
            Some(code) => write_atomic(&folder.join(TS), code)?,
            None => match std::fs::remove_file(folder.join(TS)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(format!("cannot remove the old {TS}: {e}"));
                }
                _ => {}
            },
        }
        write_atomic(&folder.join(MD), &md)?;
        Ok(folder)
    }

    /// Source of a `playbook://<folder>/<path>` module, read on the code's behalf: the folder
    /// name is validated and the file must stay inside that folder after resolving symlinks.
    pub fn read_module(&self, url: &ModuleSpecifier) -> Result<(String, MediaType), String> {
        let folder = url.host_str().unwrap_or_default();
        validate_folder(folder).map_err(|e| format!("cannot import '{url}': {e}"))?;
        let root = self.dir.join(folder);
        let root = root.canonicalize().map_err(|_| format!("no playbook '{folder}' in {}", self.dir.display()))?;
        let relative = url.path().trim_start_matches('/');
        let path = root.join(relative);
        let media_type = MediaType::from_path(&path);
        if !matches!(
            media_type,
            MediaType::TypeScript | MediaType::Mts | MediaType::JavaScript | MediaType::Mjs | MediaType::Json
        ) {
            return Err(format!("cannot import '{url}': only .ts, .mts, .js, .mjs and .json files of a playbook can be imported"));
        }
        let resolved = path.canonicalize().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound if relative == TS => format!("playbook '{folder}' has no code ({TS})"),
            std::io::ErrorKind::NotFound => format!("cannot import '{url}': no such file in playbook '{folder}'"),
            _ => format!("cannot import '{url}': {e}"),
        })?;
        if !resolved.starts_with(&root) {
            return Err(format!("cannot import '{url}': it resolves outside playbook '{folder}'"));
        }
        let text = std::fs::read_to_string(&resolved).map_err(|e| format!("cannot import '{url}': {e}"))?;
        Ok((text, media_type))
    }
}

fn check_syntax(folder: &str, code: &str) -> Result<(), String> {
    let url = ModuleSpecifier::parse(&module_url(folder)).map_err(|e| e.to_string())?;
    crate::sandbox::transpile_module(code.into(), &url, MediaType::TypeScript)
        .map(|_| ())
        .map_err(|e| format!("the code does not parse: {}", e.0))
}

fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names() {
        for ok in ["a", "http-helper", "A_b-9", &"x".repeat(64)] {
            assert!(validate_folder(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "a/b", ".", "..", "a b", "é", &"x".repeat(65), "a\0"] {
            assert!(validate_folder(bad).is_err(), "{bad:?}");
        }
    }

    fn meta() -> Meta {
        Meta { name: "N".into(), description: "D".into(), author: None, version: None, tags: vec![], source: None }
    }

    #[test]
    fn create_get_overwrite_and_modules() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("playbooks"));
        let new = |code: Option<&str>, overwrite| NewPlaybook {
            folder: "demo".into(),
            meta: meta(),
            content: "# Demo\n".into(),
            code: code.map(str::to_string),
            overwrite,
        };
        store.create(new(Some("export const x: number = 1;"), false)).unwrap();
        assert!(store.create(new(None, false)).unwrap_err().contains("overwrite: true"));
        let err = store.create(new(Some("export const = ;"), true)).unwrap_err();
        assert!(err.contains("does not parse"), "{err}");
        assert_eq!(store.get("demo").unwrap().code.as_deref(), Some("export const x: number = 1;"));
        store.create(new(None, true)).unwrap();
        assert!(store.get("demo").unwrap().code.is_none());

        let url = |s: &str| ModuleSpecifier::parse(s).unwrap();
        assert!(store.read_module(&url("playbook://demo/playbook.ts")).unwrap_err().contains("has no code"));
        std::fs::write(store.dir().join("demo/util.ts"), "export const y = 2;").unwrap();
        assert_eq!(store.read_module(&url("playbook://demo/util.ts")).unwrap().0, "export const y = 2;");
        std::os::unix::fs::symlink("/etc/hostname", store.dir().join("demo/escape.ts")).unwrap();
        assert!(store.read_module(&url("playbook://demo/escape.ts")).unwrap_err().contains("outside playbook"));
        assert!(store.read_module(&url("playbook://demo/playbook.md")).unwrap_err().contains("only .ts"));
        assert!(store.read_module(&url("playbook://nope/playbook.ts")).unwrap_err().contains("no playbook 'nope'"));
        // `..` cannot leave the folder: URL parsing keeps it under the host.
        assert_eq!(url("playbook://demo/../../etc/passwd.ts").as_str(), "playbook://demo/etc/passwd.ts");
    }

    #[test]
    fn broken_folders_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        std::fs::create_dir_all(dir.path().join("bad")).unwrap();
        std::fs::write(dir.path().join("bad/playbook.md"), "no frontmatter").unwrap();
        std::fs::create_dir_all(dir.path().join("not valid")).unwrap();
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 2);
        assert!(matches!(&listed[0].state, ListedState::Broken { error, .. } if error.contains("must start with")));
        assert!(matches!(&listed[1].state, ListedState::Broken { error, .. } if error.contains("invalid playbook folder")));
    }
}
