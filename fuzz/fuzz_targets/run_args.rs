//! MCP_CONDUCTOR_RUN_ARGS: any input parses or is rejected naming an item of it; what parses
//! prints flags that parse back to the same permissions.
#![no_main]

#[path = "../../src/run_args.rs"]
#[allow(dead_code)]
mod run_args;

use libfuzzer_sys::fuzz_target;
use run_args::RunArgs;

fuzz_target!(|input: &str| {
    match RunArgs::parse(input) {
        Ok(args) => {
            for sep in [",", ";"] {
                let printed = args.flags().join(sep);
                let again = RunArgs::parse(&printed).unwrap_or_else(|e| panic!("{printed:?} does not parse back: {e}"));
                assert_eq!(again, args, "round trip of {printed:?}");
            }
        }
        Err(e) => assert!(input.contains(e.item.as_str()), "error item {:?} not in the input", e.item),
    }
});
