//! No text can overflow the parser's stack: whatever `nesting::check` accepts parses (or is a
//! syntax error) on a third of the stack executions give it. The input is a recipe (pieces and
//! repeat counts) so that short inputs reach past the bound; a stack overflow aborts the fuzzer.
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

use arbitrary::Arbitrary;
use deno_ast::{MediaType, ModuleSpecifier};
use libfuzzer_sys::fuzz_target;

/// Tokens that nest or chain, and some that separate or end statements.
const PIECES: &[&str] = &[
    "[", "]", "(", ")", "{", "}", "`${", "}`", "<", ">", ">>", ",", ";", "\n", "-", "!", "+1", "a", "=>", "?",
    ":", ".b", "()", "A<", "if(a)", "else ", "do ", "while(a)", "typeof ", "await ", "new ", "x:", "function f(){",
    "class C{", "/re/", "'s'", "`t`", "//c\n", "/*c\n*/", "as T", "=", "...", "@d ", "<T,>", "${", "1",
];

#[derive(Arbitrary, Debug)]
struct Recipe {
    typescript: bool,
    steps: Vec<(u8, u16)>,
}

/// See `rewrite.rs`: a panic swc raises is caught by the sandbox on purpose; one that escapes
/// still aborts the run.
fn report_panics_without_aborting() {
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
}

fuzz_target!(init: report_panics_without_aborting(), |recipe: Recipe| {
    let mut text = String::new();
    for (piece, count) in recipe.steps.iter().take(16) {
        let piece = PIECES[*piece as usize % PIECES.len()];
        text.push_str(&piece.repeat((*count as usize).min(20_000)));
        if text.len() > 400_000 {
            break;
        }
    }
    let media_type = if recipe.typescript { MediaType::TypeScript } else { MediaType::JavaScript };
    if nesting::check(&text, media_type).is_err() {
        return;
    }
    std::thread::Builder::new()
        .stack_size(nesting::PARSER_STACK / 3)
        .spawn(move || {
            nesting::mark_parser_stack();
            let specifier = ModuleSpecifier::parse("file:///workspace/$code.ts").unwrap();
            let _ = code::prepare_execution(&text, &specifier);
            let _ = code::transpile_module(text.into(), &specifier, media_type);
        })
        .unwrap()
        .join()
        .unwrap();
});
