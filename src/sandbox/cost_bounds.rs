//! Bounds on native cryptographic work one call can start: key pair and prime generation, primality
//! tests, Diffie-Hellman arithmetic, WebCrypto key derivation. That work runs in Rust (on the
//! execution's thread or on tokio's blocking pool), where neither V8's termination nor the
//! execution's deadline reaches it: `generateKeyPairSync("rsa", { modulusLength: 16384 })` held a
//! thread for minutes after its execution had timed out. Each call's size is checked first, against
//! one table ([`COST_BOUNDS`]) that every caller asks through one op, `op_conductor_check_cost`:
//! - WebCrypto's wrapper in `js/conductor.js` (`deriveBits`, `deriveKey`, `generateKey`);
//! - Node's `node:crypto` polyfills, at each call of a costly op ([`SOURCE_PATCHES`], applied by
//!   build.rs to the embedded sources; the build fails if a call's text changes on an upgrade).
//!   Code cannot call these ops itself (the glue hides `Deno[Deno.internal]`), so the call sites
//!   are the only routes.
//!
//! Each bound keeps one call to a few seconds on a slow core (measured with `deno run` of the same
//! Rust code on this project's 2-vCPU machines: RSA 4096 in about 3 s, DSA 2048 in 2 to 5 s, a
//! 2048-bit prime in up to 3 s, a 512-bit safe prime in up to 4 s). PBKDF2 and scrypt from
//! `node:crypto` are bounded in their op guards (`op_guards.rs`), with the same PBKDF2 figure.
//!
//! Self-contained like `glue.rs` (build.rs includes it to apply the patches and register the op).

use deno_core::{OpState, op2};
use deno_error::JsErrorBox;

/// How large a bound is.
#[derive(Clone, Copy)]
pub enum Max {
    Fixed(f64),
    /// The execution's memory cap (`MCP_CONDUCTOR_MAX_MEMORY_MB`), in KiB.
    MemoryCapKib,
}

pub struct CostBound {
    /// The name callers pass to `op_conductor_check_cost`.
    pub kind: &'static str,
    /// What is measured, for the error message.
    pub what: &'static str,
    pub max: Max,
    pub unit: &'static str,
}

/// Every bound, by kind.
pub const COST_BOUNDS: &[CostBound] = &[
    CostBound {
        kind: "pbkdf2-hmacs",
        what: "PBKDF2 work (iterations x output blocks)",
        max: Max::Fixed(super::op_guards::PBKDF2_MAX_HMACS as f64),
        unit: "HMAC computations",
    },
    CostBound { kind: "argon2-memory", what: "Argon2 memory", max: Max::MemoryCapKib, unit: "KiB" },
    CostBound {
        kind: "argon2-work",
        what: "Argon2 work (memory x passes)",
        max: Max::Fixed((2u64 << 20) as f64),
        unit: "KiB of block work",
    },
    CostBound { kind: "rsa-bits", what: "RSA modulusLength", max: Max::Fixed(4096.0), unit: "bits" },
    CostBound { kind: "dsa-bits", what: "DSA modulusLength", max: Max::Fixed(2048.0), unit: "bits" },
    CostBound { kind: "prime-bits", what: "the size of a generated prime", max: Max::Fixed(2048.0), unit: "bits" },
    CostBound { kind: "safe-prime-bits", what: "the size of a generated safe prime", max: Max::Fixed(512.0), unit: "bits" },
    CostBound { kind: "check-prime-bits", what: "the size of a primality test's candidate", max: Max::Fixed(4096.0), unit: "bits" },
    CostBound { kind: "check-prime-rounds", what: "the rounds of a primality test", max: Max::Fixed(64.0), unit: "rounds" },
    CostBound {
        kind: "dh-bytes",
        what: "the size of a Diffie-Hellman prime or key",
        max: Max::Fixed(1024.0),
        unit: "bytes (8192 bits)",
    },
];

/// `amount` against the bound named `kind`; the error says what to change.
pub fn check(kind: &str, amount: f64, memory_cap: usize) -> Result<(), JsErrorBox> {
    let Some(bound) = COST_BOUNDS.iter().find(|b| b.kind == kind) else {
        return Err(JsErrorBox::type_error(format!("mcp-conductor: no cost bound named '{kind}'")));
    };
    let max = match bound.max {
        Max::Fixed(max) => max,
        Max::MemoryCapKib => (memory_cap / 1024) as f64,
    };
    // NaN and negative sizes are left to the API's own validation.
    if amount > max {
        let cap_hint = if matches!(bound.max, Max::MemoryCapKib) { " (MCP_CONDUCTOR_MAX_MEMORY_MB)" } else { "" };
        return Err(JsErrorBox::range_error(format!(
            "{} of {amount} is over the mcp-conductor sandbox bound of {max} {}{cap_hint}: native cryptographic \
             work cannot be stopped at the execution's deadline; use a smaller size",
            bound.what, bound.unit
        )));
    }
    Ok(())
}

/// The check, for the glue's WebCrypto wrapper and the patched Node sources.
#[op2(fast)]
pub fn op_conductor_check_cost(state: &mut OpState, #[string] kind: &str, amount: f64) -> Result<(), JsErrorBox> {
    check(kind, amount, state.borrow::<super::glue::GlueState>().memory_cap)
}

/// `(check("kind", size), op)`: the op, called after its size was checked.
macro_rules! checked {
    ($op:literal, $($kind:literal = $amount:literal),+) => {
        concat!("(", $("core.ops.op_conductor_check_cost(\"", $kind, "\", ", $amount, "), ",)+ $op, ")(")
    };
}

macro_rules! safe_prime_check {
    () => {
        "core.ops.op_conductor_check_cost(safe ? \"safe-prime-bits\" : \"prime-bits\", size), "
    };
}

#[allow(dead_code)] // applied by build.rs
const KEYGEN: &str = "ext:deno_node/internal/crypto/keygen.ts";
#[allow(dead_code)]
const DIFFIE_HELLMAN: &str = "ext:deno_node/internal/crypto/diffiehellman.ts";
#[allow(dead_code)]
const RANDOM: &str = "ext:deno_node/internal/crypto/random.ts";

/// `(specifier, original, replacement)`: each call of a costly op in Node's crypto polyfills,
/// preceded by its size checks. Each original must occur exactly once (build.rs checks).
#[allow(dead_code)] // applied by build.rs
pub const SOURCE_PATCHES: &[(&str, &str, &str)] = &[
    (KEYGEN, "op_node_generate_rsa_key(", checked!("op_node_generate_rsa_key", "rsa-bits" = "modulusLength")),
    (KEYGEN, "op_node_generate_rsa_key_async(", checked!("op_node_generate_rsa_key_async", "rsa-bits" = "modulusLength")),
    (KEYGEN, "op_node_generate_rsa_pss_key(", checked!("op_node_generate_rsa_pss_key", "rsa-bits" = "modulusLength")),
    (KEYGEN, "op_node_generate_rsa_pss_key_async(", checked!("op_node_generate_rsa_pss_key_async", "rsa-bits" = "modulusLength")),
    (KEYGEN, "op_node_generate_dsa_key(", checked!("op_node_generate_dsa_key", "dsa-bits" = "modulusLength")),
    (KEYGEN, "op_node_generate_dsa_key_async(", checked!("op_node_generate_dsa_key_async", "dsa-bits" = "modulusLength")),
    (
        KEYGEN,
        "op_node_generate_dh_key(",
        checked!("op_node_generate_dh_key", "prime-bits" = "primeLength ?? 0", "dh-bytes" = "prime?.byteLength ?? 0"),
    ),
    (
        KEYGEN,
        "op_node_generate_dh_key_async(",
        checked!("op_node_generate_dh_key_async", "prime-bits" = "primeLength ?? 0", "dh-bytes" = "prime?.byteLength ?? 0"),
    ),
    (DIFFIE_HELLMAN, "op_node_gen_prime(", checked!("op_node_gen_prime", "prime-bits" = "this.#primeLength")),
    (
        DIFFIE_HELLMAN,
        "op_node_dh_compute_secret(this.#prime, this.#privateKey, buf)",
        concat!(
            checked!(
                "op_node_dh_compute_secret",
                "dh-bytes" = "this.#prime?.length ?? 0",
                "dh-bytes" = "this.#privateKey?.length ?? 0",
                "dh-bytes" = "buf.length"
            ),
            "this.#prime, this.#privateKey, buf)"
        ),
    ),
    (
        DIFFIE_HELLMAN,
        "op_node_dh_compute_secret(this.#prime, this.#privateKey, this.#generator)",
        concat!(
            checked!("op_node_dh_compute_secret", "dh-bytes" = "this.#prime?.length ?? 0", "dh-bytes" = "this.#privateKey?.length ?? 0"),
            "this.#prime, this.#privateKey, this.#generator)"
        ),
    ),
    (
        DIFFIE_HELLMAN,
        "op_node_dh_keys_generate_and_export(",
        checked!("op_node_dh_keys_generate_and_export", "dh-bytes" = "this.#prime?.length ?? 0", "prime-bits" = "this.#primeLength ?? 0"),
    ),
    (
        RANDOM,
        "op_node_check_prime_bytes(",
        checked!("op_node_check_prime_bytes", "check-prime-bits" = "candidateBytes.byteLength * 8", "check-prime-rounds" = "checks"),
    ),
    (
        RANDOM,
        "op_node_check_prime_bytes_async(",
        checked!("op_node_check_prime_bytes_async", "check-prime-bits" = "candidateBytes.byteLength * 8", "check-prime-rounds" = "checks"),
    ),
    // A safe prime's bound is its own (`safe` is the call's second argument).
    (RANDOM, "op_node_gen_prime(", concat!("(", safe_prime_check!(), "op_node_gen_prime)(")),
    (RANDOM, "op_node_gen_prime_async(", concat!("(", safe_prime_check!(), "op_node_gen_prime_async)(")),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_past_a_bound_are_range_errors_naming_it() {
        assert!(check("rsa-bits", 4096.0, 1 << 28).is_ok());
        let e = check("rsa-bits", 16384.0, 1 << 28).unwrap_err();
        assert!(e.to_string().contains("RSA modulusLength of 16384") && e.to_string().contains("4096 bits"), "{e}");
        assert!(check("argon2-memory", 65536.0, 64 << 20).is_ok());
        assert!(check("argon2-memory", 65537.0, 64 << 20).unwrap_err().to_string().contains("MCP_CONDUCTOR_MAX_MEMORY_MB"));
        assert!(check("rsa-bits", f64::NAN, 1 << 28).is_ok(), "left to the API's validation");
        assert!(check("no-such-kind", 1.0, 1 << 28).is_err());
    }

    /// Every kind a caller names is in the table, and every bound is checked somewhere (the
    /// patches and the glue's WebCrypto wrapper).
    #[test]
    fn every_kind_named_by_a_caller_exists() {
        let glue = include_str!("../../js/conductor.js");
        let patched = SOURCE_PATCHES.iter().map(|(_, _, replacement)| *replacement);
        let mut named = Vec::new();
        for text in patched.chain([glue]) {
            for (i, _) in text.match_indices("op_conductor_check_cost(") {
                let rest = &text[i + "op_conductor_check_cost(".len()..];
                let call = &rest[..rest.find(')').expect("a closed call")];
                let kinds: Vec<&str> = call.split('"').skip(1).step_by(2).collect();
                assert!(!kinds.is_empty(), "a literal kind in {call}");
                for kind in kinds {
                    assert!(COST_BOUNDS.iter().any(|b| b.kind == kind), "unknown kind {kind} in {call}");
                    named.push(kind);
                }
            }
        }
        for bound in COST_BOUNDS {
            assert!(named.contains(&bound.kind), "{} is never checked", bound.kind);
        }
    }
}
