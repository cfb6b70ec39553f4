//! The filesystem executions see: Deno's `RealFs`, plus a second permission check on where
//! each path really leads. Deno checks permissions on the normalized path it was given, not on
//! the canonical one, so a symlink inside an allowed directory would lead outside it (e.g.
//! `/ws/etc -> /etc` with `allow-read=/ws`). Here every path is resolved through symlinks (all
//! of it for operations that follow the last component, its parent otherwise) and the resolved
//! path must pass the same check.
//! (A symlink swapped in between the check and the use can still race it; creating symlinks
//! needs full read and write permission in Deno, or `allow-run`.)

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use deno_permissions::{CheckedPath, CheckedPathBuf, OpenAccessKind, PermissionsContainer};
use deno_runtime::deno_fs::{FileSystem, FsDirEntry, FsFileType, FsReadDirRc, OpenOptions, RealFs};
use deno_runtime::deno_io::fs::{File, FsError, FsResult, FsStat, FsStatFs};

use OpenAccessKind::{Read, ReadNoFollow, ReadWriteNoFollow, Write, WriteNoFollow};

#[derive(Debug)]
pub struct ConfinedFs {
    inner: RealFs,
    permissions: PermissionsContainer,
    packages: PackagesRule,
    /// The most a whole-file read may allocate: the execution's memory cap.
    read_cap: usize,
}

impl ConfinedFs {
    pub fn new(permissions: PermissionsContainer, packages: PackagesRule, read_cap: usize) -> ConfinedFs {
        ConfinedFs { inner: RealFs, permissions, packages, read_cap }
    }

    /// A whole-file read would allocate more than the memory cap (a sparse or huge file, a
    /// device like `/dev/zero` that never ends): refused before it allocates, as Rust memory
    /// the heap limit would not see.
    fn too_large(&self, size: Option<u64>) -> FsError {
        let what = size.map_or("this file never ends or has no size".to_string(), |s| format!("this file has {s} bytes"));
        FsError::Io(std::io::Error::other(format!(
            "Reading a whole file is limited to the execution's memory cap ({} MB, MCP_CONDUCTOR_MAX_MEMORY_MB): \
             {what}; read it in parts (Deno.open + read)",
            self.read_cap >> 20
        )))
    }

    /// A non-regular file (device, FIFO, `/proc` entry) read whole, chunk by chunk, up to the cap.
    fn read_capped_sync(&self, file: Rc<dyn File>) -> FsResult<Cow<'static, [u8]>> {
        let mut out = Vec::new();
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            let n = file.clone().read_sync(&mut chunk)?;
            if n == 0 {
                return Ok(Cow::Owned(out));
            }
            if out.len() + n > self.read_cap {
                return Err(self.too_large(None));
            }
            out.extend_from_slice(&chunk[..n]);
        }
    }

    fn confine(&self, path: &Path, kind: OpenAccessKind) -> FsResult<()> {
        self.confine_resolved(path, kind).map(drop)
    }

    fn confine_resolved(&self, path: &Path, kind: OpenAccessKind) -> FsResult<PathBuf> {
        confine(&self.permissions, &self.packages, path, kind, "a symlink's target").map_err(|e| match e {
            Denied::Io(e) => FsError::Io(e),
            Denied::Permission(e) => FsError::PermissionCheck(e),
        })
    }

    /// [`ConfinedFs::confine`] for operations on a whole tree (rename, remove, chmod, chown):
    /// never on a directory that holds a server-owned path.
    fn confine_tree(&self, path: &Path, kind: OpenAccessKind) -> FsResult<()> {
        let resolved = self.confine_resolved(path, kind)?;
        self.packages.check_not_above(&resolved).map_err(FsError::Io)
    }
}

/// Why [`confine`] refused a path.
#[derive(Debug)]
pub enum Denied {
    Io(std::io::Error),
    Permission(deno_permissions::PermissionCheckError),
}

impl From<Denied> for deno_error::JsErrorBox {
    fn from(e: Denied) -> Self {
        match e {
            Denied::Io(e) => deno_error::JsErrorBox::new("PermissionDenied", e.to_string()),
            Denied::Permission(e) => deno_error::JsErrorBox::from_err(e),
        }
    }
}

/// The one check every file access of code goes through (the filesystem, the module loader and
/// `require()`): where `path` really leads (the `NoFollow` kinds keep the last component: lstat,
/// readlink, remove, rename act on the link itself) must be allowed as `kind`, must not be the
/// server's own `/proc` entry, and must follow the packages directory's rule. Returns the
/// resolved path.
pub fn confine(
    permissions: &PermissionsContainer,
    packages: &PackagesRule,
    path: &Path,
    kind: OpenAccessKind,
    api: &str,
) -> Result<PathBuf, Denied> {
    // Always checked: the path Deno hands over may already be the canonical one while its own
    // check ran on the path the code gave.
    let resolved = resolve(path, !kind.is_no_follow());
    if is_server_proc(path) || is_server_proc(&resolved) {
        return Err(Denied::Io(server_proc_denied(&resolved)));
    }
    packages.check(&resolved).map_err(Denied::Io)?;
    permissions
        .check_open(Cow::Owned(resolved.clone()), kind, Some(api))
        .map_err(Denied::Permission)?;
    Ok(resolved)
}

/// The packages directory (docs/security.md): every execution may read below
/// `<packages>/node_modules` (package code and the data files packages read; the grant is added
/// to `allow-read`, see `ServerOwned::add_packages`), nothing else in it (`.npmrc` holds registry
/// tokens), whatever `allow-read` says; writing anywhere in it is denied by `deny-write`.
/// Also carries every server-owned path ([`PackagesRule::check_not_above`]): the deny lists cover
/// a path and what is below it, not the directories above it, and moving one of those (renaming
/// the workspace when the playbooks directory is inside it) would carry the path out of their
/// reach.
#[derive(Debug, Clone, Default)]
pub struct PackagesRule {
    /// Canonical `<packages>` and `<packages>/node_modules` (as configured when they do not exist).
    dirs: Option<(PathBuf, PathBuf)>,
    /// Server-owned paths (denied to read or write), by their given and their real names.
    protected: Vec<PathBuf>,
}

impl PackagesRule {
    pub fn new(dir: &Path, node_modules: &Path) -> PackagesRule {
        PackagesRule { dirs: Some((resolve(dir, true), resolve(node_modules, true))), protected: Vec::new() }
    }

    /// The rule with the server-owned paths no directory above may be moved or removed.
    pub fn with_protected(mut self, paths: Vec<PathBuf>) -> PackagesRule {
        self.protected = paths;
        self
    }

    /// Refuses an operation that acts on a whole directory tree (rename, remove, chmod, chown)
    /// when `resolved` is a server-owned path or a directory above one.
    pub fn check_not_above(&self, resolved: &Path) -> std::io::Result<()> {
        match self.protected.iter().find(|p| p.starts_with(resolved)) {
            None => Ok(()),
            Some(owned) => Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "Requires write access to {}: it holds {}, which belongs to the server (never writable by \
                     code), so it cannot be renamed, removed or have its mode or owner changed",
                    resolved.display(),
                    owned.display()
                ),
            )),
        }
    }

    pub fn node_modules(&self) -> Option<&Path> {
        self.dirs.as_ref().map(|(_, nm)| nm.as_path())
    }

    /// Whether a resolved path is below `<packages>/node_modules`.
    pub fn in_node_modules(&self, resolved: &Path) -> bool {
        self.dirs.as_ref().is_some_and(|(_, nm)| resolved.starts_with(nm))
    }

    fn check(&self, resolved: &Path) -> std::io::Result<()> {
        let Some((dir, node_modules)) = &self.dirs else { return Ok(()) };
        if resolved.starts_with(dir) && !resolved.starts_with(node_modules) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "Requires access to {}: the server's packages directory ({}) is readable only below \
                     node_modules, and never writable",
                    resolved.display(),
                    dir.display()
                ),
            ));
        }
        Ok(())
    }
}

/// A path into the server process's own `/proc` entry: `/proc/self`, `/proc/thread-self`,
/// `/proc/<pid>`, or `/proc/<tid>` of any of its threads (those work although `/proc` does not
/// list them, and execution threads come and go, so no fixed deny list covers them): its memory,
/// environment and file descriptors, whatever `allow-read`/`allow-write` say.
pub fn is_server_proc(path: &Path) -> bool {
    use std::path::Component;
    let mut parts = path.components();
    if parts.next() != Some(Component::RootDir) || parts.next() != Some(Component::Normal("proc".as_ref())) {
        return false;
    }
    let Some(Component::Normal(entry)) = parts.next() else { return false };
    match entry.to_str() {
        Some("self" | "thread-self") => true,
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            n == std::process::id().to_string() || Path::new("/proc/self/task").join(n).exists()
        }
        _ => false,
    }
}

pub fn server_proc_denied(path: &Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!("Requires read access to {}: the server process's own /proc entries are never accessible", path.display()),
    )
}

/// `path` with every symlink resolved: all of it when `follow_last`, else all but the last
/// component. Components that do not exist yet are kept as they are.
pub fn resolve(path: &Path, follow_last: bool) -> PathBuf {
    if follow_last && let Ok(canonical) = path.canonicalize() {
        return canonical;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => resolve(parent, true).join(name),
        _ => path.to_path_buf(),
    }
}

fn not_available(api: &str, why: &str) -> FsError {
    FsError::Io(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!("{api} is not available in the mcp-conductor sandbox: {why}"),
    ))
}

/// Reads the umask without changing it (`umask(2)` can only set it, and setting it to read it
/// races with every other thread creating files).
fn current_umask() -> FsResult<u32> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(FsError::Io)?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        .ok_or(FsError::NotSupported)
}

fn open_kind(options: &OpenOptions) -> OpenAccessKind {
    let writes = options.write || options.append || options.create || options.create_new || options.truncate;
    match (options.read, writes) {
        (true, true) => OpenAccessKind::ReadWrite,
        (false, true) => Write,
        _ => Read,
    }
}

#[async_trait::async_trait(?Send)]
impl FileSystem for ConfinedFs {
    fn cwd(&self) -> FsResult<PathBuf> {
        self.inner.cwd()
    }
    fn tmp_dir(&self) -> FsResult<PathBuf> {
        self.inner.tmp_dir()
    }
    // The working directory and the umask belong to the process: every execution and the
    // server share them (`Deno.chdir`, `process.chdir`, `process.umask(mask)` all land here).
    fn chdir(&self, _path: &CheckedPath) -> FsResult<()> {
        Err(not_available(
            "process.chdir() / Deno.chdir()",
            "the working directory is shared by all executions; use absolute paths or WORKSPACE_DIR",
        ))
    }
    fn umask(&self, mask: Option<u32>) -> FsResult<u32> {
        match mask {
            Some(_) => Err(not_available("Setting the umask", "the umask is shared by all executions and the server")),
            None => current_umask(),
        }
    }

    fn read_file_sync(&self, path: &CheckedPath, options: OpenOptions) -> FsResult<Cow<'static, [u8]>> {
        let file = self.open_sync(path, options)?;
        let stat = file.clone().stat_sync()?;
        if !stat.is_file {
            return self.read_capped_sync(file);
        }
        if stat.size > self.read_cap as u64 {
            return Err(self.too_large(Some(stat.size)));
        }
        file.read_all_sync()
    }
    async fn read_file_async<'a>(&'a self, path: CheckedPathBuf, options: OpenOptions) -> FsResult<Cow<'static, [u8]>> {
        let file = self.open_async(path, options).await?;
        let stat = file.clone().stat_async().await?;
        if !stat.is_file {
            let mut out = Vec::new();
            loop {
                let chunk = file.clone().read(64 << 10).await?;
                if chunk.is_empty() {
                    return Ok(Cow::Owned(out));
                }
                if out.len() + chunk.len() > self.read_cap {
                    return Err(self.too_large(None));
                }
                out.extend_from_slice(&chunk);
            }
        }
        if stat.size > self.read_cap as u64 {
            return Err(self.too_large(Some(stat.size)));
        }
        file.read_all_async().await
    }

    fn open_sync(&self, path: &CheckedPath, options: OpenOptions) -> FsResult<Rc<dyn File>> {
        self.confine(path, open_kind(&options))?;
        self.inner.open_sync(path, options)
    }
    async fn open_async<'a>(&'a self, path: CheckedPathBuf, options: OpenOptions) -> FsResult<Rc<dyn File>> {
        self.confine(&path, open_kind(&options))?;
        self.inner.open_async(path, options).await
    }

    fn mkdir_sync(&self, path: &CheckedPath, recursive: bool, mode: Option<u32>) -> FsResult<()> {
        self.confine(path, WriteNoFollow)?;
        self.inner.mkdir_sync(path, recursive, mode)
    }
    async fn mkdir_async(&self, path: CheckedPathBuf, recursive: bool, mode: Option<u32>) -> FsResult<()> {
        self.confine(&path, WriteNoFollow)?;
        self.inner.mkdir_async(path, recursive, mode).await
    }

    fn chmod_sync(&self, path: &CheckedPath, mode: u32) -> FsResult<()> {
        self.confine_tree(path, Write)?;
        self.inner.chmod_sync(path, mode)
    }
    async fn chmod_async(&self, path: CheckedPathBuf, mode: u32) -> FsResult<()> {
        self.confine_tree(&path, Write)?;
        self.inner.chmod_async(path, mode).await
    }
    fn chown_sync(&self, path: &CheckedPath, uid: Option<u32>, gid: Option<u32>) -> FsResult<()> {
        self.confine_tree(path, Write)?;
        self.inner.chown_sync(path, uid, gid)
    }
    async fn chown_async(&self, path: CheckedPathBuf, uid: Option<u32>, gid: Option<u32>) -> FsResult<()> {
        self.confine_tree(&path, Write)?;
        self.inner.chown_async(path, uid, gid).await
    }
    fn lchmod_sync(&self, path: &CheckedPath, mode: u32) -> FsResult<()> {
        self.confine_tree(path, WriteNoFollow)?;
        self.inner.lchmod_sync(path, mode)
    }
    async fn lchmod_async(&self, path: CheckedPathBuf, mode: u32) -> FsResult<()> {
        self.confine_tree(&path, WriteNoFollow)?;
        self.inner.lchmod_async(path, mode).await
    }
    fn lchown_sync(&self, path: &CheckedPath, uid: Option<u32>, gid: Option<u32>) -> FsResult<()> {
        self.confine_tree(path, WriteNoFollow)?;
        self.inner.lchown_sync(path, uid, gid)
    }
    async fn lchown_async(&self, path: CheckedPathBuf, uid: Option<u32>, gid: Option<u32>) -> FsResult<()> {
        self.confine_tree(&path, WriteNoFollow)?;
        self.inner.lchown_async(path, uid, gid).await
    }

    fn remove_sync(&self, path: &CheckedPath, recursive: bool) -> FsResult<()> {
        self.confine_tree(path, WriteNoFollow)?;
        self.inner.remove_sync(path, recursive)
    }
    async fn remove_async(&self, path: CheckedPathBuf, recursive: bool) -> FsResult<()> {
        self.confine_tree(&path, WriteNoFollow)?;
        self.inner.remove_async(path, recursive).await
    }

    fn copy_file_sync(&self, oldpath: &CheckedPath, newpath: &CheckedPath) -> FsResult<()> {
        self.confine(oldpath, Read)?;
        self.confine(newpath, Write)?;
        self.inner.copy_file_sync(oldpath, newpath)
    }
    async fn copy_file_async(&self, oldpath: CheckedPathBuf, newpath: CheckedPathBuf) -> FsResult<()> {
        self.confine(&oldpath, Read)?;
        self.confine(&newpath, Write)?;
        self.inner.copy_file_async(oldpath, newpath).await
    }
    fn cp_sync(&self, path: &CheckedPath, new_path: &CheckedPath) -> FsResult<()> {
        self.confine(path, Read)?;
        self.confine(new_path, Write)?;
        self.inner.cp_sync(path, new_path)
    }
    async fn cp_async(&self, path: CheckedPathBuf, new_path: CheckedPathBuf) -> FsResult<()> {
        self.confine(&path, Read)?;
        self.confine(&new_path, Write)?;
        self.inner.cp_async(path, new_path).await
    }

    fn stat_sync(&self, path: &CheckedPath) -> FsResult<FsStat> {
        self.confine(path, Read)?;
        self.inner.stat_sync(path)
    }
    async fn stat_async(&self, path: CheckedPathBuf) -> FsResult<FsStat> {
        self.confine(&path, Read)?;
        self.inner.stat_async(path).await
    }
    fn lstat_sync(&self, path: &CheckedPath) -> FsResult<FsStat> {
        self.confine(path, ReadNoFollow)?;
        self.inner.lstat_sync(path)
    }
    async fn lstat_async(&self, path: CheckedPathBuf) -> FsResult<FsStat> {
        self.confine(&path, ReadNoFollow)?;
        self.inner.lstat_async(path).await
    }
    fn statfs_sync(&self, path: &CheckedPath, bigint: bool) -> FsResult<FsStatFs> {
        self.confine(path, Read)?;
        self.inner.statfs_sync(path, bigint)
    }
    async fn statfs_async(&self, path: CheckedPathBuf, bigint: bool) -> FsResult<FsStatFs> {
        self.confine(&path, Read)?;
        self.inner.statfs_async(path, bigint).await
    }

    fn realpath_sync(&self, path: &CheckedPath) -> FsResult<PathBuf> {
        self.confine(path, Read)?;
        self.inner.realpath_sync(path)
    }
    async fn realpath_async(&self, path: CheckedPathBuf) -> FsResult<PathBuf> {
        self.confine(&path, Read)?;
        self.inner.realpath_async(path).await
    }

    fn read_dir_sync(&self, path: &CheckedPath) -> FsResult<Vec<FsDirEntry>> {
        self.confine(path, Read)?;
        self.inner.read_dir_sync(path)
    }
    async fn read_dir_async(&self, path: CheckedPathBuf) -> FsResult<FsReadDirRc> {
        self.confine(&path, Read)?;
        self.inner.read_dir_async(path).await
    }

    fn rename_sync(&self, oldpath: &CheckedPath, newpath: &CheckedPath) -> FsResult<()> {
        self.confine_tree(oldpath, ReadWriteNoFollow)?;
        self.confine_tree(newpath, WriteNoFollow)?;
        self.inner.rename_sync(oldpath, newpath)
    }
    async fn rename_async(&self, oldpath: CheckedPathBuf, newpath: CheckedPathBuf) -> FsResult<()> {
        self.confine_tree(&oldpath, ReadWriteNoFollow)?;
        self.confine_tree(&newpath, WriteNoFollow)?;
        self.inner.rename_async(oldpath, newpath).await
    }

    fn rmdir_sync(&self, path: &CheckedPath) -> FsResult<()> {
        self.confine_tree(path, WriteNoFollow)?;
        self.inner.rmdir_sync(path)
    }
    async fn rmdir_async(&self, path: CheckedPathBuf) -> FsResult<()> {
        self.confine_tree(&path, WriteNoFollow)?;
        self.inner.rmdir_async(path).await
    }

    fn link_sync(&self, oldpath: &CheckedPath, newpath: &CheckedPath) -> FsResult<()> {
        self.confine(oldpath, ReadWriteNoFollow)?;
        self.confine(newpath, WriteNoFollow)?;
        self.inner.link_sync(oldpath, newpath)
    }
    async fn link_async(&self, oldpath: CheckedPathBuf, newpath: CheckedPathBuf) -> FsResult<()> {
        self.confine(&oldpath, ReadWriteNoFollow)?;
        self.confine(&newpath, WriteNoFollow)?;
        self.inner.link_async(oldpath, newpath).await
    }

    fn symlink_sync(&self, oldpath: &CheckedPath, newpath: &CheckedPath, file_type: Option<FsFileType>) -> FsResult<()> {
        self.confine(newpath, WriteNoFollow)?;
        self.inner.symlink_sync(oldpath, newpath, file_type)
    }
    async fn symlink_async(
        &self,
        oldpath: CheckedPathBuf,
        newpath: CheckedPathBuf,
        file_type: Option<FsFileType>,
    ) -> FsResult<()> {
        self.confine(&newpath, WriteNoFollow)?;
        self.inner.symlink_async(oldpath, newpath, file_type).await
    }

    fn read_link_sync(&self, path: &CheckedPath) -> FsResult<PathBuf> {
        self.confine(path, ReadNoFollow)?;
        self.inner.read_link_sync(path)
    }
    async fn read_link_async(&self, path: CheckedPathBuf) -> FsResult<PathBuf> {
        self.confine(&path, ReadNoFollow)?;
        self.inner.read_link_async(path).await
    }

    fn truncate_sync(&self, path: &CheckedPath, len: u64) -> FsResult<()> {
        self.confine(path, Write)?;
        self.inner.truncate_sync(path, len)
    }
    async fn truncate_async(&self, path: CheckedPathBuf, len: u64) -> FsResult<()> {
        self.confine(&path, Write)?;
        self.inner.truncate_async(path, len).await
    }

    fn utime_sync(&self, path: &CheckedPath, atime_secs: i64, atime_nanos: u32, mtime_secs: i64, mtime_nanos: u32) -> FsResult<()> {
        self.confine(path, Write)?;
        self.inner.utime_sync(path, atime_secs, atime_nanos, mtime_secs, mtime_nanos)
    }
    async fn utime_async(
        &self,
        path: CheckedPathBuf,
        atime_secs: i64,
        atime_nanos: u32,
        mtime_secs: i64,
        mtime_nanos: u32,
    ) -> FsResult<()> {
        self.confine(&path, Write)?;
        self.inner.utime_async(path, atime_secs, atime_nanos, mtime_secs, mtime_nanos).await
    }
    fn lutime_sync(&self, path: &CheckedPath, atime_secs: i64, atime_nanos: u32, mtime_secs: i64, mtime_nanos: u32) -> FsResult<()> {
        self.confine(path, WriteNoFollow)?;
        self.inner.lutime_sync(path, atime_secs, atime_nanos, mtime_secs, mtime_nanos)
    }
    async fn lutime_async(
        &self,
        path: CheckedPathBuf,
        atime_secs: i64,
        atime_nanos: u32,
        mtime_secs: i64,
        mtime_nanos: u32,
    ) -> FsResult<()> {
        self.confine(&path, WriteNoFollow)?;
        self.inner.lutime_async(path, atime_secs, atime_nanos, mtime_secs, mtime_nanos).await
    }

    fn exists_sync(&self, path: &CheckedPath) -> bool {
        self.confine(path, Read).is_ok() && self.inner.exists_sync(path)
    }
    async fn exists_async(&self, path: CheckedPathBuf) -> FsResult<bool> {
        self.confine(&path, Read)?;
        self.inner.exists_async(path).await
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;
    use std::path::Path;

    #[test]
    fn resolves_symlinks_in_any_component() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        assert_eq!(resolve(&root.join("etc/hostname"), true), Path::new("/etc/hostname"));
        assert_eq!(resolve(&root.join("etc/new/deeper.txt"), true), Path::new("/etc/new/deeper.txt"));
        // Not following the last component: the link itself.
        assert_eq!(resolve(&root.join("etc"), false), root.join("etc"));
        assert_eq!(resolve(&root.join("plain.txt"), true), root.join("plain.txt"));
    }
}
