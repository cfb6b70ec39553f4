//! Names for temporary and result files that are unique across processes and calls. Replicas
//! share one ROOT (playbooks on a shared volume) and every container is PID 1, so the process id
//! alone collides: a random per-process part (from the OS) plus a per-process counter.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh name part: 16 hex digits of per-process randomness, then a counter.
pub fn unique_suffix() -> String {
    static PROCESS: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let process = *PROCESS.get_or_init(|| {
        let mut bytes = [0u8; 8];
        let read = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
        if read.is_err() {
            // No /dev/urandom: the std hasher's random keys still differ per process.
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(std::process::id());
            bytes = h.finish().to_le_bytes();
        }
        u64::from_le_bytes(bytes)
    });
    format!("{process:016x}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    #[test]
    fn suffixes_differ() {
        let a = super::unique_suffix();
        let b = super::unique_suffix();
        assert_ne!(a, b);
        assert_eq!(a[..16], b[..16], "same process part");
    }
}
