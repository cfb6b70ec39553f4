//! Captured output of one execution.
//!
//! `console.*` reaches us through our `op_print` override (exact order across stdout and
//! stderr); writes to `Deno.stdout`/`Deno.stderr` and inherited child-process output arrive
//! through pipes drained by threads. Both land here, so `output` keeps the order lines were
//! produced in, and `stdout`/`stderr` keep the raw streams apart.

use std::fs::File;
use std::io::{Read, Write};
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
    /// Output beyond the cap was dropped.
    pub truncated: bool,
}

#[derive(Default)]
struct Inner {
    captured: Captured,
    /// Text after the last newline, per stream, waiting for the rest of its line.
    partial: [String; 2],
    /// Bytes still accepted before the cap.
    room: usize,
}

/// Receives each complete line as it is captured (live MCP logging notifications).
pub type LineSink = Arc<dyn Fn(Stream, &str) + Send + Sync>;

pub struct OutputLog {
    inner: Mutex<Inner>,
    lines: Mutex<Option<LineSink>>,
}

impl OutputLog {
    /// A log that keeps the first `max_bytes` of stdout+stderr and drops the rest (the pipes
    /// keep being drained, so the code never blocks on a full pipe).
    pub fn new(max_bytes: usize) -> Self {
        Self { inner: Mutex::new(Inner { room: max_bytes, ..Default::default() }), lines: Mutex::new(None) }
    }

    /// From now on, every complete line (within the cap) also goes to `sink`.
    pub fn set_line_sink(&self, sink: LineSink) {
        *self.lines.lock().unwrap_or_else(|p| p.into_inner()) = Some(sink);
    }

    pub fn write(&self, stream: Stream, text: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if text.len() > inner.room {
            let cut = floor_char_boundary(text, inner.room);
            inner.captured.truncated = true;
            inner.room = 0;
            if cut == 0 {
                return;
            }
            drop(inner);
            return self.write_unchecked(stream, &text[..cut]);
        }
        inner.room -= text.len();
        drop(inner);
        self.write_unchecked(stream, text)
    }

    fn write_unchecked(&self, stream: Stream, text: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Inner { captured, partial, .. } = &mut *inner;
        let (raw, pending) = match stream {
            Stream::Stdout => (&mut captured.stdout, &mut partial[0]),
            Stream::Stderr => (&mut captured.stderr, &mut partial[1]),
        };
        raw.push_str(text);
        pending.push_str(text);
        let first_new = captured.output.len();
        while let Some(pos) = pending.find('\n') {
            let mut line: String = pending.drain(..=pos).collect();
            line.pop();
            if line.ends_with('\r') {
                line.pop();
            }
            captured.output.push(line);
        }
        let sink = self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(sink) = sink {
            for line in &captured.output[first_new..] {
                sink(stream, line);
            }
        }
    }

    /// Takes what was captured; unterminated last lines count as lines.
    pub fn finish(&self) -> Captured {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Inner { captured, partial, .. } = &mut *inner;
        for pending in partial.iter_mut() {
            if !pending.is_empty() {
                captured.output.push(std::mem::take(pending));
            }
        }
        std::mem::take(captured)
    }
}

/// One pipe (the worker's stdout or stderr fd) drained into the log by its own thread, so a
/// large write never blocks the code.
///
/// `flush` proves everything written before it has been read without waiting for the pipe to
/// close (which needs the worker torn down, ~2 ms): it writes a secret marker through a kept
/// copy of the write end; pipes are FIFO, so once the drain reads the marker, all earlier bytes
/// are in the log.
pub struct Drain {
    marker_writer: File,
    marker: [u8; 16],
    flushed: std::sync::mpsc::Receiver<()>,
}

impl Drain {
    /// Returns the drain and the write end to give to the worker.
    pub fn new(log: Arc<OutputLog>, stream: Stream) -> std::io::Result<(Drain, File)> {
        let (reader, writer) = std::io::pipe()?;
        let writer = File::from(std::os::fd::OwnedFd::from(writer));
        let marker = random_marker();
        let (tx, flushed) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("output-drain".into())
            .spawn(move || drain_loop(reader, log, stream, marker, tx))?;
        Ok((Drain { marker_writer: writer.try_clone()?, marker, flushed }, writer))
    }

    /// Waits (at most `limit`) until everything written so far is in the log.
    pub fn flush(mut self, limit: Duration) {
        if self.marker_writer.write_all(&self.marker).is_ok() {
            let _ = self.flushed.recv_timeout(limit);
        }
    }
}

fn drain_loop(
    mut reader: impl Read,
    log: Arc<OutputLog>,
    stream: Stream,
    marker: [u8; 16],
    flushed: std::sync::mpsc::Sender<()>,
) {
    let mut decoder = Utf8Chunks::default();
    // Bytes that may be the start of the marker, held back until we know.
    let mut held: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        held.extend_from_slice(&buf[..n]);
        if let Some(pos) = find(&held, &marker) {
            log.write(stream, &decoder.push(&held[..pos]));
            let rest = held.split_off(pos + marker.len());
            held = rest;
            let _ = flushed.send(());
            // Output after the marker (a child process still running) is no longer collected.
            continue;
        }
        // Keep only a tail that could still begin the marker.
        let keep = partial_marker_suffix(&held, &marker);
        let ready = held.len() - keep;
        log.write(stream, &decoder.push(&held[..ready]));
        held.drain(..ready);
    }
    let mut rest = decoder.push(&held);
    rest.push_str(&decoder.finish());
    if !rest.is_empty() {
        log.write(stream, &rest);
    }
}

fn floor_char_boundary(text: &str, max: usize) -> usize {
    (0..=max.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Length of the longest suffix of `data` that is a proper prefix of `marker`.
fn partial_marker_suffix(data: &[u8], marker: &[u8]) -> usize {
    (1..marker.len().min(data.len() + 1))
        .rev()
        .find(|&k| data.ends_with(&marker[..k]))
        .unwrap_or(0)
}

fn random_marker() -> [u8; 16] {
    let mut marker = [0u8; 16];
    if File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut marker)).is_err() {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            ^ (&marker as *const _ as usize as u128);
        marker.copy_from_slice(&seed.to_le_bytes());
    }
    marker
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
        let log = OutputLog::new(1 << 20);
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
    fn output_beyond_the_cap_is_dropped_and_flagged() {
        let log = OutputLog::new(10);
        log.write(Stream::Stdout, "12345\n");
        log.write(Stream::Stderr, "é678\n");
        log.write(Stream::Stdout, "more\n");
        let c = log.finish();
        assert!(c.truncated);
        assert_eq!(c.stdout, "12345\n");
        assert_eq!(c.stderr, "é67", "cut on a char boundary within 10 bytes");
        assert_eq!(c.output, vec!["12345", "é67"]);
    }

    #[test]
    fn unterminated_lines_are_kept() {
        let log = OutputLog::new(1 << 20);
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
    fn flush_sees_everything_written_before_it_without_closing() {
        let log = Arc::new(OutputLog::new(1 << 20));
        let (drain, mut writer) = Drain::new(log.clone(), Stream::Stdout).unwrap();
        let big = "x".repeat(200_000) + "\nlast line";
        writer.write_all(big.as_bytes()).unwrap();
        drain.flush(Duration::from_secs(10));
        let captured = log.finish();
        assert_eq!(captured.stdout, big, "nothing lost, marker not included");
        drop(writer);
    }

    #[test]
    fn marker_prefix_in_data_is_not_lost() {
        let marker = [7u8; 16];
        assert_eq!(partial_marker_suffix(b"abc\x07\x07", &marker), 2);
        assert_eq!(partial_marker_suffix(b"abc", &marker), 0);
        assert_eq!(find(b"ab\x07\x07", &[7, 7]), Some(2));
    }
}
