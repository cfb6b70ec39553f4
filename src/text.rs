//! Text the server sends back that code chose (names, messages, keys), bounded.
//!
//! Self-contained: `build.rs` includes this file with `sandbox/call_trace.rs`.

/// `text` cut at `max` characters, an ellipsis marking the cut.
pub fn cut_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}
