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
    format!("{}://{folder}/{TS}", crate::sandbox::contract::PLAYBOOK_SCHEME)
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
            return Err(already_exists(&new.folder));
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        // The whole playbook is written as a new folder next to the old one, then moved into
        // place in one step: a reader (another replica too) sees the old playbook or the new one,
        // never a new playbook.md with an old playbook.ts.
        let staged = self.dir.join(format!(".{}.{}.new", new.folder, crate::unique::unique_suffix()));
        let written = stage_current(&staged, &folder, &md, new.code.as_deref());
        let placed = written.and_then(|()| {
            if new.overwrite && folder.exists() {
                exchange(&staged, &folder).map_err(|e| format!("cannot replace {}: {e}", folder.display()))
            } else {
                // rename(2) onto an existing non-empty folder fails: of two concurrent creates,
                // exactly one wins.
                std::fs::rename(&staged, &folder).map_err(|e| match e.kind() {
                    std::io::ErrorKind::DirectoryNotEmpty | std::io::ErrorKind::AlreadyExists => already_exists(&new.folder),
                    _ => format!("cannot create {}: {e}", folder.display()),
                })
            }
        });
        // After an exchange, `staged` holds the old playbook.
        let _ = std::fs::remove_dir_all(&staged);
        placed.map(|()| folder)
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

fn already_exists(folder: &str) -> String {
    format!("playbook '{folder}' already exists; pass overwrite: true to replace it")
}

/// [`stage`], again from the start when the old folder was replaced while it was being copied:
/// a concurrent overwrite swapped it and is removing the previous copy, so a file listed a
/// moment ago is gone (NotFound), or was never listed at all (the copy looks complete but lacks
/// it: only the folder's identity, which changed, tells).
fn stage_current(staged: &Path, old: &Path, md: &str, code: Option<&str>) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    const ATTEMPTS: usize = 16;
    let identity = || std::fs::metadata(old).ok().map(|m| (m.dev(), m.ino()));
    let mut attempt = 1;
    loop {
        let before = identity();
        match stage(staged, old, md, code) {
            Ok(()) if identity() == before => return Ok(()),
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot write {}: {e}", staged.display())),
        }
        if attempt >= ATTEMPTS {
            return Err(format!("cannot write {}: {} was replaced {ATTEMPTS} times while it was copied", staged.display(), old.display()));
        }
        let _ = std::fs::remove_dir_all(staged);
        attempt += 1;
    }
}

/// Writes the new playbook into `staged`: the old folder's other files (sibling modules) first,
/// then playbook.md and playbook.ts (or none).
fn stage(staged: &Path, old: &Path, md: &str, code: Option<&str>) -> std::io::Result<()> {
    std::fs::create_dir(staged)?;
    if old.is_dir() {
        copy_tree(old, staged)?;
    }
    for name in [MD, TS] {
        match std::fs::remove_file(staged.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    std::fs::write(staged.join(MD), md)?;
    if let Some(code) = code {
        std::fs::write(staged.join(TS), code)?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        }
    }
    Ok(())
}

/// Swaps two paths in one step (Linux `renameat2(RENAME_EXCHANGE)`).
pub(super) fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: two valid NUL-terminated paths; AT_FDCWD for both.
    let rc = unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
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

    /// Writers racing on one folder (threads here; replicas sharing a volume in production):
    /// exactly one create wins, overwrites land whole, sibling modules survive, no temp folders
    /// stay behind.
    #[test]
    fn concurrent_creates_and_overwrites_stay_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let store = &Store::new(dir.path().join("playbooks"));
        let new = |i: usize, overwrite| NewPlaybook {
            folder: "race".into(),
            meta: meta(),
            content: format!("version {i}\n"),
            code: Some(format!("export const version = {i};")),
            overwrite,
        };
        let wins: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|i| s.spawn(move || store.create(new(i, false)).is_ok())).collect();
            handles.into_iter().map(|h| h.join().unwrap() as usize).sum()
        });
        assert_eq!(wins, 1, "exactly one create of a new folder wins");
        std::fs::write(store.dir().join("race/util.ts"), "export const y = 2;").unwrap();
        std::thread::scope(|s| {
            for i in 10..18 {
                s.spawn(move || store.create(new(i, true)).unwrap());
            }
        });
        let p = store.get("race").unwrap();
        let version = p.body.trim().trim_start_matches("version ").to_string();
        assert_eq!(p.code.unwrap(), format!("export const version = {version};"), "md and ts from one write");
        assert!(store.dir().join("race/util.ts").is_file(), "sibling modules survive an overwrite");
        let leftovers: Vec<_> = std::fs::read_dir(store.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers, ["race"], "no temp folders left");
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
