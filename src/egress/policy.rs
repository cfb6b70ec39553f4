//! The egress policy file (`MCP_CONDUCTOR_EGRESS`): its format, its validation and the decision
//! for one outbound request. Pure: no I/O except reading credential files named by the policy.
//!
//! ```yaml
//! rules:
//!   - name: github                 # optional; the host when absent
//!     host: api.github.com         # exact, or `*.example.com` (the domain and its subdomains)
//!     scheme: https                # default https
//!     port: 443                    # default: the scheme's
//!     methods: [GET, POST]         # default: every method
//!     paths: [/repos/, /user]      # path prefixes; default: every path
//!     headers:                     # added in Rust, over the code's own headers of that name
//!       Authorization: Bearer ${GITHUB_TOKEN}
//!       X-Api-Key: { file: /run/secrets/api-key }
//! ```
//!
//! Hosts bind every route (Deno's permission check, narrowed: see the parent module); methods,
//! paths and headers apply to the requests the server sees whole (fetch, WebSocket handshakes).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file as written. Unknown fields are errors: a misspelt `methods` must not widen a rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    rules: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: Option<String>,
    host: String,
    scheme: Option<String>,
    port: Option<u16>,
    methods: Option<Vec<String>>,
    paths: Option<Vec<String>>,
    #[serde(default)]
    headers: BTreeMap<String, HeaderValueFile>,
    /// Credentials over plain `http` only when the admin says so.
    #[serde(default)]
    insecure: bool,
    /// Credentials to every name under a `*.domain` only when the admin says so.
    #[serde(default)]
    subdomains: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum HeaderValueFile {
    /// Text with `${NAME}` placeholders for variables of the server's environment.
    Text(String),
    /// The content of a file, trimmed (a Kubernetes Secret mounted as a file).
    File { file: PathBuf },
}

/// Which hosts a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    /// `*.example.com`: `example.com` and every name under it (as Deno's `allow-net` reads it).
    Domain(String),
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        // `[::1]` and `::1` are one host (URLs bracket IPv6 addresses; the match compares bare),
        // and an IP address is compared in its canonical form (`0:0::1` is `::1`).
        let bare = text.trim().trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
            return Ok(HostPattern::Exact(ip.to_string()));
        }
        let lower = bare.to_ascii_lowercase();
        let (pattern, name) = match lower.strip_prefix("*.") {
            Some(domain) => (HostPattern::Domain(domain.to_string()), domain),
            None => (HostPattern::Exact(lower.clone()), lower.as_str()),
        };
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
        if valid {
            Ok(pattern)
        } else {
            Err(format!("host {text:?} is not a host name, an IP address or *.domain (the port goes in `port`)"))
        }
    }

    pub fn matches(&self, host: &str) -> bool {
        let host = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => host.trim_end_matches('.').to_ascii_lowercase(),
        };
        match self {
            HostPattern::Exact(name) => host == *name,
            HostPattern::Domain(domain) => host == *domain || host.ends_with(&format!(".{domain}")),
        }
    }

    /// As Deno's `allow-net` and URLs write it (IPv6 in brackets).
    pub fn descriptor(&self) -> String {
        match self {
            HostPattern::Exact(name) if name.contains(':') => format!("[{name}]"),
            HostPattern::Exact(name) => name.clone(),
            HostPattern::Domain(domain) => format!("*.{domain}"),
        }
    }
}

/// One rule, validated, with its credentials resolved.
#[derive(Clone)]
pub struct Rule {
    pub name: String,
    pub host: HostPattern,
    pub scheme: String,
    pub port: u16,
    /// Upper case; `None`: every method.
    pub methods: Option<BTreeSet<String>>,
    pub paths: Option<Vec<String>>,
    /// Header name (lower case) → value. Never printed: [`Rule`]'s Debug leaves values out.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Rule")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("scheme", &self.scheme)
            .field("port", &self.port)
            .field("methods", &self.methods)
            .field("paths", &self.paths)
            .field("headers", &header_names)
            .finish()
    }
}

impl Rule {
    /// `name (scheme://host:port)`, as refusals and the audit log name it.
    pub fn label(&self) -> String {
        format!("'{}' ({}://{}:{})", self.name, self.scheme, self.host.descriptor(), self.port)
    }

    fn covers_origin(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.scheme == scheme && self.port == port && self.host.matches(host)
    }

    /// What the rule checks that only a request seen whole can honour (empty: nothing).
    fn checks(&self) -> Vec<&'static str> {
        let mut checks = Vec::new();
        if self.methods.is_some() {
            checks.push("checks methods");
        }
        if self.paths.is_some() {
            checks.push("checks paths");
        }
        if !self.headers.is_empty() {
            checks.push("adds credentials");
        }
        checks
    }

    /// `name: describe()`, as the `EGRESS` global and `doctor` list a rule.
    pub fn summary(&self) -> String {
        format!("{}: {}", self.name, self.describe())
    }

    /// A one-line summary for the LLM (no credential values).
    pub fn describe(&self) -> String {
        let methods = self.methods.as_ref().map_or("any method".into(), |m| m.iter().cloned().collect::<Vec<_>>().join("/"));
        let paths = self.paths.as_ref().map_or("any path".into(), |p| format!("paths {}", p.join(", ")));
        let credentials = if self.headers.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
            format!("; the server adds {} itself (do not send them)", names.join(", "))
        };
        let route = if self.checks().is_empty() { "" } else { "; fetch() and WebSocket only, not node:http(s) or sockets" };
        format!("{}://{}:{} ({methods}, {paths}{credentials}{route})", self.scheme, self.host.descriptor(), self.port)
    }
}

/// The whole policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub rules: Vec<Rule>,
    /// The credential files the rules read (`{ file: ... }`), absolute.
    pub credential_files: Vec<PathBuf>,
}

/// Every refusal of the policy says this: the error's hint (`sandbox/failure.rs`) recognizes it
/// and points at MCP_CONDUCTOR_EGRESS rather than MCP_CONDUCTOR_RUN_ARGS.
pub const REFUSED: &str = "refused by the egress policy";

/// Where a policy's credentials come from: the variables taken out of the environment at startup.
pub trait SecretSource {
    fn variable(&self, name: &str) -> Option<String>;
}

/// What the policy says about one request.
#[derive(Debug)]
pub enum Decision<'a> {
    Allow(&'a Rule),
    Refuse(String),
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "https" | "wss" => Some(443),
        "http" | "ws" => Some(80),
        _ => None,
    }
}

/// Whether `path` is `prefix` or below it, on segment boundaries: `/user` covers `/user` and
/// `/user/x`, not `/users`; `/repos/` covers everything under `/repos/`.
fn under(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// `${NAME}` placeholders in `text`.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.push(name.to_string());
        }
        rest = &after[end + 1..];
    }
    names
}

fn substitute(text: &str, secrets: &dyn SecretSource) -> Result<String, String> {
    let mut out = text.to_string();
    for name in placeholders(text) {
        let value = secrets.variable(&name).ok_or_else(|| {
            format!(
                "${{{name}}} is not set (it must be in the server's environment when the server starts; the server takes \
                 it out of the environment so code cannot read it: restart after setting it)"
            )
        })?;
        out = out.replace(&format!("${{{name}}}"), &value);
    }
    Ok(out)
}

impl Policy {
    /// Parses `text` (YAML, or JSON, which is YAML) and resolves credentials. `origin` names
    /// the file in errors. Relative credential files resolve against `base`.
    pub fn parse(text: &str, base: &Path, secrets: &dyn SecretSource) -> Result<Policy, String> {
        let file: PolicyFile = yaml_serde::from_str(text).map_err(|e| e.to_string())?;
        let mut policy = Policy::default();
        for (index, rule) in file.rules.into_iter().enumerate() {
            let which = format!("rule {} ({})", index + 1, rule.name.as_deref().unwrap_or(&rule.host));
            let rule = Self::rule(rule, base, secrets, &mut policy.credential_files).map_err(|e| format!("{which}: {e}"))?;
            policy.rules.push(rule);
        }
        Ok(policy)
    }

    fn rule(rule: RuleFile, base: &Path, secrets: &dyn SecretSource, files: &mut Vec<PathBuf>) -> Result<Rule, String> {
        let host = HostPattern::parse(&rule.host)?;
        let scheme = rule.scheme.unwrap_or_else(|| "https".into()).to_ascii_lowercase();
        let Some(scheme_port) = default_port(&scheme) else {
            return Err(format!("scheme {scheme:?} is not one of https, http, wss, ws"));
        };
        // WebSocket URLs are HTTP(S) requests on the wire; one rule covers both spellings.
        let scheme = match scheme.as_str() {
            "wss" => "https".to_string(),
            "ws" => "http".to_string(),
            _ => scheme,
        };
        let methods = match rule.methods {
            Some(list) if list.is_empty() => return Err("methods is empty (leave it out to allow every method)".into()),
            Some(list) => {
                let mut set = BTreeSet::new();
                for m in list {
                    let upper = m.trim().to_ascii_uppercase();
                    if upper.is_empty() || !upper.chars().all(|c| c.is_ascii_alphabetic()) {
                        return Err(format!("method {m:?} is not an HTTP method"));
                    }
                    set.insert(upper);
                }
                Some(set)
            }
            None => None,
        };
        let paths = match rule.paths {
            Some(list) if list.is_empty() => return Err("paths is empty (leave it out to allow every path)".into()),
            Some(list) => {
                for p in &list {
                    if !p.starts_with('/') {
                        return Err(format!("path {p:?} must start with /"));
                    }
                }
                Some(list)
            }
            None => None,
        };
        if !rule.headers.is_empty() && matches!(host, HostPattern::Domain(_)) && !rule.subdomains {
            return Err("adds headers on a *.domain rule, which sends them to every name under it (user content, \
                        other tenants): name the host, or set subdomains: true"
                .into());
        }
        if !rule.headers.is_empty() && scheme == "http" && !rule.insecure {
            return Err("adds headers over plain http, where anyone on the path reads them: use https, or set insecure: true".into());
        }
        let mut headers = Vec::new();
        for (name, value) in rule.headers {
            let header = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("header name {name:?} is not valid"))?;
            let text = match value {
                HeaderValueFile::Text(text) => substitute(&text, secrets).map_err(|e| format!("header {name}: {e}"))?,
                HeaderValueFile::File { file } => {
                    let path = if file.is_absolute() { file } else { base.join(file) };
                    files.push(path.clone());
                    std::fs::read_to_string(&path)
                        .map_err(|e| format!("header {name}: cannot read {}: {e}", path.display()))?
                        .trim()
                        .to_string()
                }
            };
            let mut value = http::HeaderValue::from_str(&text).map_err(|_| format!("header {name}: the value is not a valid header value"))?;
            value.set_sensitive(true);
            headers.push((header, value));
        }
        Ok(Rule {
            name: rule.name.unwrap_or_else(|| rule.host.clone()),
            host,
            port: rule.port.unwrap_or(scheme_port),
            scheme,
            methods,
            paths,
            headers,
        })
    }

    /// The rule that allows `method url` (an `http(s)`/`ws(s)` URL), or why none does.
    pub fn decide_http<'a>(&'a self, method: &str, url: &deno_core::url::Url) -> Decision<'a> {
        let scheme = match url.scheme() {
            "wss" => "https",
            "ws" => "http",
            other => other,
        };
        let Some(host) = url.host_str() else {
            return Decision::Refuse(format!("{url} has no host"));
        };
        let shown = host;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let Some(port) = url.port_or_known_default() else {
            return Decision::Refuse(format!("{url} has no port"));
        };
        let candidates: Vec<&Rule> = self.rules.iter().filter(|r| r.covers_origin(scheme, host, port)).collect();
        if candidates.is_empty() {
            return Decision::Refuse(self.no_rule(&format!("{scheme}://{shown}:{port}")));
        }
        // Matched as sent: fetch upper-cases the standard methods itself, a custom `patch` goes
        // out in lower case and is not `PATCH`.
        let path = url.path();
        // The path is matched as sent; a server that decodes `%2F` or `%2E` before resolving
        // `..` would serve another path than the one the prefix allowed.
        let lower = path.to_ascii_lowercase();
        let disguised = ["%2f", "%5c", "%2e", "%25", ";"].iter().any(|e| lower.contains(e));
        let mut reasons = Vec::new();
        for rule in &candidates {
            if let Some(methods) = &rule.methods
                && !methods.contains(method)
            {
                reasons.push(format!("rule {} allows {} only", rule.label(), methods.iter().cloned().collect::<Vec<_>>().join(", ")));
                continue;
            }
            if rule.paths.is_some() && disguised {
                reasons.push(format!(
                    "rule {} checks paths, and this one has an encoded '/', '\\', '.' or '%', or a ';' (a server that \
                     decodes or strips them could serve another path)",
                    rule.label()
                ));
                continue;
            }
            if let Some(paths) = &rule.paths
                && !paths.iter().any(|p| under(path, p))
            {
                reasons.push(format!("rule {} allows paths under {} only", rule.label(), paths.join(", ")));
                continue;
            }
            return Decision::Allow(rule);
        }
        Decision::Refuse(format!("{method} {scheme}://{shown}:{port}{path} {REFUSED}: {}", reasons.join("; ")))
    }

    /// Whether a connection whose bytes the server does not read as requests (`Deno.connect`,
    /// `Deno.connectTls`, `node:net`/`tls`/`http`/`https`/`dgram`, a proxy, a DNS server) may
    /// reach `host:port`: only where rules cover it and none of them checks anything such a
    /// connection could escape (methods, paths, credentials), whatever its scheme (a socket can
    /// speak plain HTTP to a port an `https` rule names). A rule that checks them is honoured by
    /// `fetch` and WebSocket alone; a socket would let the code send any method to any path, and
    /// a credential could never be added to it. A port the API does not name: every rule of the
    /// host.
    pub fn decide_connection(&self, api: &str, host: &str, port: Option<u16>) -> Result<(), String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let shown = match port {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let candidates: Vec<&Rule> =
            self.rules.iter().filter(|r| r.host.matches(bare) && port.is_none_or(|p| r.port == p)).collect();
        if candidates.is_empty() {
            return Err(format!("{api} to {}", self.no_rule(&shown)));
        }
        let open = |r: &&Rule| r.checks().is_empty();
        if candidates.iter().all(open) {
            return Ok(());
        }
        let reasons: Vec<String> = candidates
            .iter()
            .filter(|r| !open(r))
            .map(|r| format!("rule {} {}", r.label(), and_list(&r.checks())))
            .collect();
        Err(format!(
            "{api} to {shown} {REFUSED}: {}, which only fetch() and WebSocket requests can honour (this API writes \
             its own bytes to a socket; node:http/https, node:net, node:tls, Deno.connect and Deno.connectTls reach only \
             hosts whose rules check none of these); use fetch()",
            reasons.join("; ")
        ))
    }

    fn no_rule(&self, target: &str) -> String {
        let hosts: Vec<String> = self.rules.iter().map(|r| format!("{}://{}:{}", r.scheme, r.host.descriptor(), r.port)).collect();
        format!(
            "{target} {REFUSED}: it is not covered by any egress rule (MCP_CONDUCTOR_EGRESS allows {})",
            if hosts.is_empty() { "no host".into() } else { hosts.join(", ") }
        )
    }

    /// `allow-net` entries for the hosts of the rules (`host:port`).
    pub fn net_descriptors(&self) -> Vec<String> {
        let mut list: Vec<String> = Vec::new();
        for rule in &self.rules {
            let entry = format!("{}:{}", rule.host.descriptor(), rule.port);
            if !list.contains(&entry) {
                list.push(entry);
            }
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Env;
    impl SecretSource for Env {
        fn variable(&self, name: &str) -> Option<String> {
            (name == "GITHUB_TOKEN").then(|| "ghp_secret".to_string())
        }
    }

    fn policy(text: &str) -> Result<Policy, String> {
        Policy::parse(text, Path::new("/"), &Env)
    }

    fn url(s: &str) -> deno_core::url::Url {
        deno_core::url::Url::parse(s).unwrap()
    }

    const GITHUB: &str = "rules:\n  - name: github\n    host: api.github.com\n    methods: [get, POST]\n    paths: [/repos/, /user]\n    headers:\n      Authorization: Bearer ${GITHUB_TOKEN}\n  - host: '*.example.com'\n";

    #[test]
    fn a_request_inside_a_rule_gets_its_credentials() {
        let p = policy(GITHUB).unwrap();
        let Decision::Allow(rule) = p.decide_http("GET", &url("https://api.github.com/repos/a/b")) else { panic!() };
        assert_eq!(rule.name, "github");
        assert_eq!(rule.headers[0].0.as_str(), "authorization");
        assert_eq!(rule.headers[0].1.to_str().unwrap(), "Bearer ghp_secret");
        assert!(rule.headers[0].1.is_sensitive());
        assert!(!format!("{rule:?}").contains("ghp_secret"), "Debug never shows values");
    }

    #[test]
    fn refusals_name_the_rule() {
        let p = policy(GITHUB).unwrap();
        let Decision::Refuse(why) = p.decide_http("DELETE", &url("https://api.github.com/repos/a")) else { panic!() };
        assert!(why.contains("'github'") && why.contains("GET, POST only"), "{why}");
        for disguised in ["/repos/..%2fadmin", "/repos/%2E%2E%2Fadmin", "/repos/%5c..", "/repos/%252f", "/repos/..;/admin"] {
            let Decision::Refuse(why) = p.decide_http("GET", &url(&format!("https://api.github.com{disguised}"))) else {
                panic!("{disguised}")
            };
            assert!(why.contains("encoded"), "{why}");
        }
        let Decision::Refuse(why) = p.decide_http("GET", &url("https://api.github.com/gists")) else { panic!() };
        assert!(why.contains("paths under /repos/, /user only"), "{why}");
        for (path, allowed) in [("/user", true), ("/user/keys", true), ("/users", false), ("/user-admin", false), ("/repos", false)] {
            let d = p.decide_http("GET", &url(&format!("https://api.github.com{path}")));
            assert_eq!(matches!(d, Decision::Allow(_)), allowed, "{path}: {d:?}");
        }
        assert!(matches!(p.decide_http("patch", &url("https://api.github.com/user")), Decision::Refuse(_)), "methods as sent");
        let Decision::Refuse(why) = p.decide_http("GET", &url("http://api.github.com/repos/a")) else { panic!() };
        assert!(why.contains("not covered by any egress rule"), "plain http is another origin: {why}");
        let Decision::Refuse(why) = p.decide_http("GET", &url("https://evil.example.net/")) else { panic!() };
        assert!(why.contains("https://api.github.com:443") && !why.contains("ghp_secret"), "{why}");
    }

    #[test]
    fn connections_reach_only_hosts_whose_rules_check_nothing_a_socket_escapes() {
        let p = policy(GITHUB).unwrap();
        // The credentialed, method- and path-checked host: no socket, whatever the spelling.
        for host in ["api.github.com", "API.GitHub.com", "api.github.com."] {
            let refusal = p.decide_connection("Deno.connectTls()", host, Some(443)).unwrap_err();
            assert!(refusal.contains(REFUSED), "{refusal}");
            assert!(refusal.contains("'github'") && refusal.contains("checks methods, checks paths and adds credentials"), "{refusal}");
            assert!(refusal.contains("use fetch()"), "{refusal}");
        }
        // An open rule: any socket to its host and port.
        assert!(p.decide_connection("node:net.connect()", "www.example.com", Some(443)).is_ok());
        assert!(p.decide_connection("node:net.connect()", "[::1]", Some(443)).unwrap_err().contains("not covered"));
        // Another port, or a host no rule names.
        assert!(p.decide_connection("node:net.connect()", "www.example.com", Some(22)).unwrap_err().contains("not covered"));
        assert!(p.decide_connection("Deno.connect()", "evil.test", Some(443)).unwrap_err().starts_with("Deno.connect() to evil.test:443"));
        // No port named: every rule of the host must be open.
        assert!(p.decide_connection("x", "example.com", None).is_ok());
        assert!(p.decide_connection("x", "api.github.com", None).is_err());
        // An open rule beside a checked one for the same port (here another scheme) does not
        // open it: a socket could speak the checked rule's scheme.
        let both = policy(
            "rules:\n  - host: api.github.com\n    scheme: http\n    port: 443\n    methods: [GET]\n  - host: api.github.com\n    name: open\n",
        )
        .unwrap();
        assert!(both.decide_connection("Deno.connectTls()", "api.github.com", Some(443)).is_err());
        let only_paths = policy("rules:\n  - host: 10.0.0.1\n    paths: [/v1/]\n").unwrap();
        let refusal = only_paths.decide_connection("node:net.connect()", "10.0.0.1", Some(443)).unwrap_err();
        assert!(refusal.contains("checks paths,") && !refusal.contains("credentials"), "{refusal}");
    }

    #[test]
    fn wildcards_cover_the_domain_and_below() {
        let p = policy(GITHUB).unwrap();
        for ok in ["https://example.com/", "https://a.b.example.com/x", "wss://ws.example.com/"] {
            assert!(matches!(p.decide_http("POST", &url(ok)), Decision::Allow(_)), "{ok}");
        }
        assert!(matches!(p.decide_http("GET", &url("https://notexample.com/")), Decision::Refuse(_)));
        assert_eq!(p.net_descriptors(), ["api.github.com:443", "*.example.com:443"]);
        let v6 = policy("rules:\n  - host: '[0:0::1]'\n    port: 8443\n").unwrap();
        assert!(matches!(v6.decide_http("GET", &url("https://[::1]:8443/")), Decision::Allow(_)));
        assert_eq!(v6.net_descriptors(), ["[::1]:8443"]);
    }

    #[test]
    fn mistakes_are_startup_errors() {
        for (text, expected) in [
            ("rules:\n  - host: a.com\n    method: [GET]\n", "unknown field `method`"),
            ("rules:\n  - host: a.com\n    methods: []\n", "methods is empty"),
            ("rules:\n  - host: a.com\n    paths: [repos]\n", "must start with /"),
            ("rules:\n  - host: 'a.*.com'\n", "is not a host name"),
            ("rules:\n  - host: a.com\n    scheme: ftp\n", "scheme \"ftp\""),
            ("rules:\n  - host: a.com:8080\n", "the port goes in `port`"),
            ("rules:\n  - host: '*.a.com'\n    headers: {X-Key: v}\n", "set subdomains: true"),
            ("rules:\n  - host: a.com\n    scheme: http\n    headers: {X-Key: v}\n", "plain http"),
            ("rules:\n  - host: a.com\n    headers: {X-Key: '${NOT_TAKEN}'}\n", "${NOT_TAKEN} is not set"),
            ("rules:\n  - host: a.com\n    headers: {X-Key: {file: /nonexistent/key}}\n", "cannot read /nonexistent/key"),
        ] {
            let err = policy(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
        assert!(policy("{\"rules\": [{\"host\": \"a.com\", \"scheme\": \"http\", \"insecure\": true, \"headers\": {\"X\": \"v\"}}]}").is_ok(), "JSON is YAML");
    }

    #[test]
    fn placeholders_are_found_in_raw_text() {
        assert_eq!(placeholders("Bearer ${A_1} and ${B} ${} ${bad-name} ${C"), ["A_1", "B"]);
    }
}
