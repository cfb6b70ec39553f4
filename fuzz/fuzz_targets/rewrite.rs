//! The return-value rewrite: any source either is a syntax error or becomes a module whose
//! emitted JavaScript parses again; never a panic.
#![no_main]

#[path = "../../src/sandbox/contract.rs"]
#[allow(dead_code)]
#[macro_use]
mod contract;
#[path = "../../src/sandbox/code.rs"]
#[allow(dead_code)]
mod code;
#[path = "../../src/sandbox/nesting.rs"]
#[allow(dead_code)]
mod nesting;

use deno_ast::{MediaType, ModuleSpecifier, ParseParams};
use libfuzzer_sys::fuzz_target;

/// libFuzzer's hook aborts on every panic, even one the code catches; the sandbox catches swc's
/// panics on purpose (`nesting::on_parser_stack`). This hook only reports: a panic that escapes
/// still aborts the run, in libfuzzer-sys's `catch_unwind` around each input.
fn report_panics_without_aborting() {
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
}

fuzz_target!(init: report_panics_without_aborting(), |source: &str| {
    let specifier = ModuleSpecifier::parse("file:///workspace/$code.ts").unwrap();
    if let Ok(emitted) = code::prepare_execution(source, &specifier) {
        let reparsed = deno_ast::parse_module(ParseParams {
            specifier: ModuleSpecifier::parse("file:///workspace/$emitted.js").unwrap(),
            text: emitted.code.clone().into(),
            media_type: MediaType::JavaScript,
            capture_tokens: false,
            scope_analysis: false,
            maybe_syntax: None,
        });
        assert!(reparsed.is_ok(), "emitted code does not parse: {:?}\n{}", reparsed.err(), emitted.code);
        assert!(emitted.code.contains("Symbol.for(\"mcp-conductor\")"), "{}", emitted.code);
    }
});
