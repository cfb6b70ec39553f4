//! Keeps the JSON-RPC stream out of everyone else's reach.
//!
//! At startup the real stdin/stdout are duplicated (close-on-exec) for the MCP transport, then
//! fd 0 becomes `/dev/null` and fd 1 becomes a copy of stderr. After that, nothing else in the
//! process (user code, child processes, a stray `println!`) can read requests or write into the
//! response stream.

use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, RawFd};

pub struct Transport {
    pub input: File,
    pub output: File,
}

pub fn isolate_process_stdio() -> io::Result<Transport> {
    let input = dup_cloexec(0)?;
    let output = dup_cloexec(1)?;
    let devnull = File::options().read(true).write(true).open("/dev/null")?;
    // SAFETY: plain fd syscalls on descriptors we own or that the process always has.
    unsafe {
        if libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&devnull), 0) < 0 || libc::dup2(2, 1) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(Transport { input, output })
}

fn dup_cloexec(fd: RawFd) -> io::Result<File> {
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we then own.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a fresh, owned descriptor.
    Ok(unsafe { File::from_raw_fd(new) })
}
