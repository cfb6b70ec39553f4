//! Output capture and the result JSON: arbitrary writes to both streams under an arbitrary cap,
//! then the result in both forms. The cap holds, truncation is reported, the JSON round-trips
//! and keeps the documented key order.
#![no_main]

#[path = "../../src/sandbox/output.rs"]
#[allow(dead_code)]
mod output;
#[path = "../../src/sandbox/result.rs"]
#[allow(dead_code)]
mod result;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use output::{OutputLog, Stream};
use result::{ErrorType, Failure, Outcome};
use serde_json::Value;

#[derive(Arbitrary, Debug)]
struct Input {
    cap: u16,
    writes: Vec<(bool, String)>,
    value: Option<String>,
    error: Option<(u8, String)>,
    exit_code: Option<i32>,
    return_file: Option<(String, u32)>,
    queue_ms: f64,
    execution_time_ms: f64,
}

fuzz_target!(|input: Input| {
    let log = OutputLog::new(input.cap as usize);
    let mut written = 0usize;
    for (is_err, text) in &input.writes {
        log.write(if *is_err { Stream::Stderr } else { Stream::Stdout }, text);
        written += text.len();
    }
    let captured = log.finish();
    let kept = captured.stdout.len() + captured.stderr.len();
    assert!(kept <= input.cap as usize, "kept {kept} bytes over a cap of {}", input.cap);
    assert_eq!(captured.truncated, written > input.cap as usize, "truncated flag");

    let kinds = [ErrorType::Syntax, ErrorType::Runtime, ErrorType::Timeout, ErrorType::Permission, ErrorType::Exit, ErrorType::Memory];
    let result = match (&input.error, &input.value) {
        (Some((kind, message)), _) => Err(Failure::new(kinds[*kind as usize % kinds.len()], message.clone())),
        (None, value) => Ok(value.clone().map_or(Value::Null, Value::String)),
    };
    // Wall times are finite and far below 1e9 ms (and serde_json parses huge floats inexactly).
    let ms = |x: f64| if x.is_finite() { x.abs() % 1e9 } else { 0.0 };
    let outcome = Outcome {
        captured,
        result,
        exit_code: input.exit_code,
        return_file: input.return_file.map(|(p, n)| (p, n as usize)),
        queue_ms: ms(input.queue_ms),
        execution_time_ms: ms(input.execution_time_ms),
    };
    for streams in [false, true] {
        let json = outcome.to_json(streams);
        let text = json.to_string();
        let back: Value = serde_json::from_str(&text).expect("result JSON parses back");
        assert_eq!(back, json);
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "status");
        assert_eq!(keys[1], "output");
        let expected = if outcome.is_error() { "error" } else { "success" };
        assert_eq!(json["status"], expected);
    }
});
