//! Captured output of one execution.
//!
//! `console.*` reaches us through our `op_print` override (exact order across stdout and
//! stderr); writes to `Deno.stdout`/`Deno.stderr` and inherited child-process output arrive
//! through pipes drained by threads. Both land here, so `output` keeps the order lines were
//! produced in, and `stdout`/`stderr` keep the raw streams apart.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The finished capture of one execution.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Captured {
    /// Lines of stdout and stderr in the order they were produced.
    pub output: Vec<String>,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Default)]
struct Inner {
    captured: Captured,
    /// Text after the last newline, per stream, waiting for the rest of its line.
    partial: [String; 2],
}

#[derive(Default)]
pub struct OutputLog {
    inner: Mutex<Inner>,
}

impl OutputLog {
    pub fn write(&self, stream: Stream, text: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Inner { captured, partial } = &mut *inner;
        let (raw, pending) = match stream {
            Stream::Stdout => (&mut captured.stdout, &mut partial[0]),
            Stream::Stderr => (&mut captured.stderr, &mut partial[1]),
        };
        raw.push_str(text);
        pending.push_str(text);
        while let Some(pos) = pending.find('\n') {
            let mut line: String = pending.drain(..=pos).collect();
            line.pop();
            if line.ends_with('\r') {
                line.pop();
            }
            captured.output.push(line);
        }
    }

    /// Takes what was captured; unterminated last lines count as lines.
    pub fn finish(&self) -> Captured {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Inner { captured, partial } = &mut *inner;
        for pending in partial.iter_mut() {
            if !pending.is_empty() {
                captured.output.push(std::mem::take(pending));
            }
        }
        std::mem::take(captured)
    }
}

/// Drains one pipe into the log on its own thread; `wait` gives it a bounded time to see EOF
/// (a child process that inherited the pipe may keep it open: then it is left behind).
pub struct Drain {
    done: std::sync::mpsc::Receiver<()>,
}

impl Drain {
    pub fn spawn(mut reader: impl Read + Send + 'static, log: Arc<OutputLog>, stream: Stream) -> Drain {
        let (tx, done) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("output-drain".into())
            .spawn(move || {
                let mut decoder = Utf8Chunks::default();
                let mut buf = [0u8; 8192];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => log.write(stream, &decoder.push(&buf[..n])),
                    }
                }
                let rest = decoder.finish();
                if !rest.is_empty() {
                    log.write(stream, &rest);
                }
                let _ = tx.send(());
            })
            .expect("spawn output drain thread");
        Drain { done }
    }

    pub fn wait(self, limit: Duration) {
        let _ = self.done.recv_timeout(limit);
    }
}

/// Decodes UTF-8 split across reads without mangling multi-byte characters.
#[derive(Default)]
struct Utf8Chunks {
    carry: Vec<u8>,
}

impl Utf8Chunks {
    fn push(&mut self, bytes: &[u8]) -> String {
        self.carry.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.carry) {
            Ok(_) => self.carry.len(),
            // An incomplete sequence at the end waits for the next read.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => {
                let text = String::from_utf8_lossy(&self.carry).into_owned();
                self.carry.clear();
                return text;
            }
        };
        let text = String::from_utf8_lossy(&self.carry[..valid]).into_owned();
        self.carry.drain(..valid);
        text
    }

    fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.carry).into_owned();
        self.carry.clear();
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_order_across_streams() {
        let log = OutputLog::default();
        log.write(Stream::Stdout, "hi\n");
        log.write(Stream::Stderr, "err\n");
        log.write(Stream::Stdout, "a\nb");
        log.write(Stream::Stdout, "c\r\n");
        let c = log.finish();
        assert_eq!(c.output, vec!["hi", "err", "a", "bc"]);
        assert_eq!(c.stdout, "hi\na\nbc\r\n");
        assert_eq!(c.stderr, "err\n");
    }

    #[test]
    fn unterminated_lines_are_kept() {
        let log = OutputLog::default();
        log.write(Stream::Stderr, "no newline");
        assert_eq!(log.finish().output, vec!["no newline"]);
    }

    #[test]
    fn split_utf8_is_reassembled() {
        let mut d = Utf8Chunks::default();
        let bytes = "é€".as_bytes();
        let mut out = d.push(&bytes[..1]);
        out += &d.push(&bytes[1..4]);
        out += &d.push(&bytes[4..]);
        out += &d.finish();
        assert_eq!(out, "é€");
    }

    #[test]
    fn drain_reads_a_pipe_to_eof() {
        let (r, mut w) = std::io::pipe().unwrap();
        let log = Arc::new(OutputLog::default());
        let drain = Drain::spawn(r, log.clone(), Stream::Stdout);
        std::io::Write::write_all(&mut w, b"x\ny").unwrap();
        drop(w);
        drain.wait(Duration::from_secs(5));
        assert_eq!(log.finish().output, vec!["x", "y"]);
    }
}
