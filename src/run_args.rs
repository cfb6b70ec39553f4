//! `MCP_CONDUCTOR_RUN_ARGS`: the admin's permission flags, parsed once at startup.
//!
//! Grammar: items separated by `,` or `;`, each optionally prefixed by `--`. A flag may carry a
//! list (`allow-read=/a,/b`): an item that is not a flag name continues the previous flag's list,
//! which keeps Deno's own `--allow-read=/a,/b` syntax working. Anything that looks like a flag but
//! is not a known one is an error naming the item: nothing is ever dropped or guessed.

use std::collections::BTreeMap;
use std::fmt;

/// The permission kinds Deno knows, in the order flags are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Read,
    Write,
    Net,
    Env,
    Run,
    Sys,
    Ffi,
    Import,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Read,
        Kind::Write,
        Kind::Net,
        Kind::Env,
        Kind::Run,
        Kind::Sys,
        Kind::Ffi,
        Kind::Import,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Write => "write",
            Kind::Net => "net",
            Kind::Env => "env",
            Kind::Run => "run",
            Kind::Sys => "sys",
            Kind::Ffi => "ffi",
            Kind::Import => "import",
        }
    }

    fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// What one `allow-*` / `deny-*` flag grants or denies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// The flag without a list: everything of that kind.
    All,
    /// The flag with a list: only these values (paths, hosts, names...).
    Only(Vec<String>),
}

impl Grant {
    fn merge(&mut self, other: Grant) {
        match (&mut *self, other) {
            (Grant::All, _) => {}
            (this, Grant::All) => *this = Grant::All,
            (Grant::Only(a), Grant::Only(b)) => {
                for v in b {
                    if !a.contains(&v) {
                        a.push(v);
                    }
                }
            }
        }
    }

    /// Deno's `PermissionsOptions` encoding: `Some(vec![])` means "all".
    pub fn to_option(grant: Option<&Grant>) -> Option<Vec<String>> {
        match grant {
            None => None,
            Some(Grant::All) => Some(vec![]),
            Some(Grant::Only(list)) => Some(list.clone()),
        }
    }
}

/// The parsed, normalized flags. `Default` is the zero-permission set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunArgs {
    pub allow: BTreeMap<Kind, Grant>,
    pub deny: BTreeMap<Kind, Grant>,
    /// `no-remote` or `cached-only`: remote modules are never downloaded (we keep no module cache,
    /// so "cached only" means "nothing remote").
    pub no_remote: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunArgsError {
    pub item: String,
    pub reason: String,
}

impl fmt::Display for RunArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MCP_CONDUCTOR_RUN_ARGS: item '{}': {}", self.item, self.reason)
    }
}

impl std::error::Error for RunArgsError {}

const KNOWN_FLAGS: &str = "allow-{read,write,net,env,run,sys,ffi,import}[=list], \
deny-{read,write,net,env,run,sys,ffi,import}[=list], allow-all, no-prompt, cached-only, no-remote";

/// Whether `item`, as a list item of its own, would be taken for a flag rather than a value.
fn reads_as_flag(item: &str) -> bool {
    let body = item.strip_prefix("--");
    let name = body.unwrap_or(item).split_once('=').map_or(body.unwrap_or(item), |(n, _)| n);
    body.is_some()
        || name.starts_with("allow-")
        || name.starts_with("deny-")
        || ["allow-all", "no-prompt", "cached-only", "no-remote"].contains(&name)
}

/// Why a list value is refused though it is not itself a flag: a flag after a space
/// (`--allow-read=/tmp --allow-net` is one value otherwise, "/tmp --allow-net") or a leading
/// dash (`-A`: Deno's short flags are not list values).
fn suspicious_value(value: &str) -> Option<String> {
    if value.starts_with('-') {
        return Some(format!("the value '{value}' starts with '-'; short flags like -A are not accepted, write the long form"));
    }
    let mut words = value.split_whitespace().skip(1);
    words.find(|w| w.starts_with('-') || reads_as_flag(w)).map(|word| {
        format!(
            "the value '{value}' holds '{word}' after a space; separate flags with ',' \
             (MCP_CONDUCTOR_RUN_ARGS is a comma-separated list, e.g. --allow-read=/tmp,--allow-net)"
        )
    })
}

/// The flag a continuation item would be appended to.
struct OpenList {
    allow: bool,
    kind: Kind,
}

impl RunArgs {
    pub fn parse(input: &str) -> Result<RunArgs, RunArgsError> {
        let mut args = RunArgs::default();
        let mut open: Option<OpenList> = None;
        for raw in input.split([',', ';']) {
            let item = raw.trim();
            if item.is_empty() {
                continue;
            }
            let err = |reason: String| RunArgsError { item: item.to_string(), reason };
            let prefixed = item.starts_with("--");
            let body = item.strip_prefix("--").unwrap_or(item);
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };

            if let Some((allow, kind)) = parse_kind_flag(name) {
                let grant = match value {
                    None => Grant::All,
                    Some(v) if v.trim().is_empty() => {
                        return Err(err(format!(
                            "empty list; write '{name}' to grant all, or give values after '='"
                        )));
                    }
                    // As a later list item it would read as a flag: refused here too, so the
                    // printed flags mean the same (found by fuzzing: `allow-sys=---`).
                    Some(v) if reads_as_flag(v.trim()) => {
                        return Err(err(format!(
                            "the value '{}' reads as a flag; values may not start with '--', 'allow-' or 'deny-' or be a flag name",
                            v.trim()
                        )));
                    }
                    Some(v) => match suspicious_value(v.trim()) {
                        Some(reason) => return Err(err(reason)),
                        None => Grant::Only(vec![v.trim().to_string()]),
                    },
                };
                open = value.map(|_| OpenList { allow, kind });
                let map = if allow { &mut args.allow } else { &mut args.deny };
                map.entry(kind)
                    .and_modify(|g| g.merge(grant.clone()))
                    .or_insert(grant);
                continue;
            }

            match name {
                "allow-all" | "no-prompt" | "cached-only" | "no-remote" => {
                    if value.is_some() {
                        return Err(err(format!("'{name}' takes no value")));
                    }
                    open = None;
                    match name {
                        "allow-all" => {
                            for kind in Kind::ALL {
                                args.allow.insert(kind, Grant::All);
                            }
                        }
                        // Prompts never happen in this server; accepted for compatibility.
                        "no-prompt" => {}
                        _ => args.no_remote = true,
                    }
                    continue;
                }
                _ => {}
            }

            let looks_like_flag = prefixed || name.starts_with("allow-") || name.starts_with("deny-");
            if looks_like_flag {
                return Err(err(format!("unknown flag '{name}'; known flags: {KNOWN_FLAGS}")));
            }
            // Not a flag: the next value of the previous flag's list.
            let Some(list) = &open else {
                return Err(err(format!(
                    "not a known flag, and it does not follow a flag with a '=' list; known flags: {KNOWN_FLAGS}"
                )));
            };
            if let Some(reason) = suspicious_value(item) {
                return Err(err(reason));
            }
            let map = if list.allow { &mut args.allow } else { &mut args.deny };
            map.get_mut(&list.kind)
                .expect("open list always has an entry")
                .merge(Grant::Only(vec![item.to_string()]));
        }
        Ok(args)
    }

    pub fn is_zero(&self) -> bool {
        self.allow.is_empty()
    }

    /// The effective flags as Deno would spell them, e.g. `--allow-read=/a,/b`.
    pub fn flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (prefix, map) in [("allow", &self.allow), ("deny", &self.deny)] {
            for (kind, grant) in map {
                match grant {
                    Grant::All => out.push(format!("--{prefix}-{}", kind.name())),
                    Grant::Only(list) => {
                        out.push(format!("--{prefix}-{}={}", kind.name(), list.join(",")))
                    }
                }
            }
        }
        if self.no_remote {
            out.push("--no-remote".to_string());
        }
        out
    }
}

fn parse_kind_flag(name: &str) -> Option<(bool, Kind)> {
    if let Some(k) = name.strip_prefix("allow-") {
        return Kind::from_name(k).map(|k| (true, k));
    }
    if let Some(k) = name.strip_prefix("deny-") {
        return Kind::from_name(k).map(|k| (false, k));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(v: &[&str]) -> Grant {
        Grant::Only(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn empty_is_zero_permissions() {
        assert!(RunArgs::parse("").unwrap().is_zero());
        assert!(RunArgs::parse(" , ;").unwrap().is_zero());
        assert!(RunArgs::parse("").unwrap().flags().is_empty());
    }

    #[test]
    fn deno_list_syntax_continues_previous_flag() {
        let a = RunArgs::parse("allow-read=/a,/b,allow-net").unwrap();
        assert_eq!(a.allow.get(&Kind::Read), Some(&only(&["/a", "/b"])));
        assert_eq!(a.allow.get(&Kind::Net), Some(&Grant::All));
        assert_eq!(a.flags(), vec!["--allow-read=/a,/b", "--allow-net"]);
    }

    #[test]
    fn dashes_and_semicolons() {
        let a = RunArgs::parse("--allow-read=/x;--allow-env=HOME,USER;--deny-net=1.2.3.4").unwrap();
        assert_eq!(a.allow.get(&Kind::Read), Some(&only(&["/x"])));
        assert_eq!(a.allow.get(&Kind::Env), Some(&only(&["HOME", "USER"])));
        assert_eq!(a.deny.get(&Kind::Net), Some(&only(&["1.2.3.4"])));
    }

    #[test]
    fn unknown_flag_is_an_error_naming_it() {
        let e = RunArgs::parse("allow-read,allow-bogus").unwrap_err();
        assert_eq!(e.item, "allow-bogus");
        assert!(e.to_string().contains("allow-bogus"));
        assert_eq!(RunArgs::parse("--frobnicate").unwrap_err().item, "--frobnicate");
        assert_eq!(RunArgs::parse("deny-all").unwrap_err().item, "deny-all");
    }

    #[test]
    fn stray_value_without_open_list_is_an_error() {
        assert_eq!(RunArgs::parse("/tmp").unwrap_err().item, "/tmp");
        assert_eq!(RunArgs::parse("allow-net,example.com").unwrap_err().item, "example.com");
        assert_eq!(RunArgs::parse("allow-all,/x").unwrap_err().item, "/x");
    }

    #[test]
    fn values_that_read_as_flags_are_refused() {
        // Found by fuzzing: printed as a later list item, such a value would be read as a flag.
        for input in ["allow-sys=---", "allow-read=--x", "allow-read=allow-net", "deny-env=no-prompt", "allow-read=/a,allow-read=deny-x"] {
            let e = RunArgs::parse(input).unwrap_err();
            assert!(e.reason.contains("reads as a flag"), "{input}: {e}");
        }
        let e = RunArgs::parse("allow-read=-x,/y").unwrap_err();
        assert!(e.reason.contains("starts with '-'"), "a leading dash reads as a short flag: {e}");
    }

    #[test]
    fn flags_after_a_space_and_leading_dashes_are_errors() {
        for input in ["--allow-read=/tmp --allow-net", "--allow-read=/a,/b allow-write", "--allow-net=a.com -A", "--allow-read=/a,-A", "--allow-read=-x"] {
            let e = RunArgs::parse(input).unwrap_err();
            assert!(e.to_string().contains("'-") || e.to_string().contains("after a space"), "{input}: {e}");
        }
        assert_eq!(RunArgs::parse("--allow-read=/home/me/My Files").unwrap().allow[&Kind::Read], only(&["/home/me/My Files"]));
    }

    #[test]
    fn empty_list_and_valued_switches_are_errors() {
        assert_eq!(RunArgs::parse("allow-read=").unwrap_err().item, "allow-read=");
        assert_eq!(RunArgs::parse("no-remote=1").unwrap_err().item, "no-remote=1");
    }

    #[test]
    fn allow_all_and_switches() {
        let a = RunArgs::parse("allow-all,no-prompt,no-remote").unwrap();
        assert!(Kind::ALL.iter().all(|k| a.allow.get(k) == Some(&Grant::All)));
        assert!(a.no_remote);
        assert!(RunArgs::parse("cached-only").unwrap().no_remote);
    }

    #[test]
    fn repeated_flags_merge_and_all_wins() {
        let a = RunArgs::parse("allow-read=/a,allow-read=/b,/a").unwrap();
        assert_eq!(a.allow.get(&Kind::Read), Some(&only(&["/a", "/b"])));
        let a = RunArgs::parse("allow-net=x.com,allow-net").unwrap();
        assert_eq!(a.allow.get(&Kind::Net), Some(&Grant::All));
    }

    #[test]
    fn to_option_matches_deno_encoding() {
        assert_eq!(Grant::to_option(None), None);
        assert_eq!(Grant::to_option(Some(&Grant::All)), Some(vec![]));
        assert_eq!(Grant::to_option(Some(&only(&["/a"]))), Some(vec!["/a".to_string()]));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn value() -> impl Strategy<Value = String> {
            "[/a-zA-Z0-9_.:-]{1,12}".prop_filter("not a flag", |v| {
                !v.starts_with("allow-") && !v.starts_with("deny-") && !v.starts_with('-')
                    && !["allow-all", "no-prompt", "cached-only", "no-remote"].contains(&v.as_str())
            })
        }

        fn grant() -> impl Strategy<Value = Grant> {
            prop_oneof![Just(Grant::All), prop::collection::vec(value(), 1..4).prop_map(|mut v| {
                v.dedup();
                let mut seen = Vec::new();
                v.retain(|x| if seen.contains(x) { false } else { seen.push(x.clone()); true });
                Grant::Only(v)
            })]
        }

        fn run_args() -> impl Strategy<Value = RunArgs> {
            let kinds = || prop::collection::btree_map(prop::sample::select(Kind::ALL.to_vec()), grant(), 0..5);
            (kinds(), kinds(), any::<bool>()).prop_map(|(allow, deny, no_remote)| RunArgs { allow, deny, no_remote })
        }

        proptest! {
            /// The printed flags parse back to the same permissions (with either separator).
            #[test]
            fn flags_round_trip(args in run_args(), semicolons in any::<bool>()) {
                let sep = if semicolons { ";" } else { "," };
                let text = args.flags().join(sep);
                prop_assert_eq!(RunArgs::parse(&text).unwrap(), args);
            }

            /// Any input is either parsed or rejected with the offending item; never a panic.
            #[test]
            fn never_panics(input in ".{0,80}") {
                if let Err(e) = RunArgs::parse(&input) {
                    prop_assert!(input.contains(e.item.as_str()));
                }
            }
        }
    }
}
