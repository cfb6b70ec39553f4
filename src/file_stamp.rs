//! Whether a file changed since it was read, as far as one `stat` tells: modification time,
//! length and inode (a file replaced by rename has a new inode even within one mtime tick). The
//! packages manifest and the egress policy are re-read when their stamp changes.

use std::path::Path;
use std::time::SystemTime;

/// The identity of a file's current content; `None` when it cannot be stat'ed (missing).
pub type Stamp = Option<(SystemTime, u64, u64)>;

pub fn stamp(path: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}
