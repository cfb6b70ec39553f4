//! Package specifiers: what code imports (`npm:zod@^3/v4`, `jsr:@std/path@^1/posix`, `lodash/fp`)
//! and what an administrator installs (`zod@^3.23`, `npm:axios@^1`, `jsr:@std/path`), both mapped to
//! one npm package name, an optional version requirement and an optional subpath.
//!
//! JSR packages are npm packages named `@jsr/<scope>__<name>` (what `npx jsr add` installs from
//! JSR's npm registry), so `jsr:@std/path` means the npm package `@jsr/std__path`.

use deno_semver::VersionReq;
use deno_semver::jsr::JsrPackageReqReference;
use deno_semver::npm::NpmPackageReqReference;

#[derive(Debug, Clone, PartialEq)]
pub struct PackageRef {
    /// The npm package name (`@jsr/std__path` for `jsr:@std/path`).
    pub name: String,
    /// `None`: any version (no `@` given, or `*`).
    pub req: Option<VersionReq>,
    /// Without a leading `/`.
    pub sub_path: Option<String>,
}

impl PackageRef {
    /// The requirement as written (`^3.23`), for messages.
    pub fn req_text(&self) -> Option<&str> {
        self.req.as_ref().map(VersionReq::version_text)
    }
}

/// `jsr:@scope/name` → `@jsr/scope__name`.
pub fn jsr_to_npm_name(jsr_name: &str) -> Option<String> {
    let rest = jsr_name.strip_prefix('@')?;
    let (scope, name) = rest.split_once('/')?;
    (!scope.is_empty() && !name.is_empty() && !name.contains('/')).then(|| format!("@jsr/{scope}__{name}"))
}

/// A specifier from code: `npm:` and `jsr:` references and bare package names (`lodash`,
/// `lodash/fp`, `@scope/name/sub`). `None`: not a package specifier (relative, absolute, URL).
pub fn parse_import(specifier: &str) -> Option<Result<PackageRef, String>> {
    // `npm:/name@1/` is how import maps write a prefix (a URL with a path can be joined).
    for scheme in ["npm:", "jsr:"] {
        if let Some(rest) = specifier.strip_prefix(scheme)
            && rest.starts_with('/')
        {
            return parse_import(&format!("{scheme}{}", rest.trim_start_matches('/')));
        }
    }
    if specifier.starts_with("npm:") {
        return Some(parse_npm(specifier));
    }
    if specifier.starts_with("jsr:") {
        return Some(parse_jsr(specifier));
    }
    if !is_bare(specifier) {
        return None;
    }
    let mut parts = specifier.splitn(if specifier.starts_with('@') { 3 } else { 2 }, '/');
    let mut name = parts.next().unwrap_or_default().to_string();
    if specifier.starts_with('@') {
        match parts.next() {
            Some(second) if !second.is_empty() => {
                name.push('/');
                name.push_str(second);
            }
            _ => return Some(Err(format!("'{specifier}' is not a valid package name (expected @scope/name)"))),
        }
    }
    let sub_path = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
    if !valid_name(&name) {
        return Some(Err(format!("'{specifier}' is not a valid package name")));
    }
    Some(Ok(PackageRef { name, req: None, sub_path }))
}

/// What an administrator lists (`MCP_CONDUCTOR_PACKAGES`, `packages add`): `name[@range]`, with an
/// optional `npm:` or `jsr:` prefix. No subpath.
pub fn parse_install(spec: &str) -> Result<PackageRef, String> {
    let spec = spec.trim();
    let parsed = if spec.starts_with("npm:") {
        parse_npm(spec)
    } else if spec.starts_with("jsr:") {
        parse_jsr(spec)
    } else {
        parse_npm(&format!("npm:{spec}"))
    }?;
    if parsed.sub_path.is_some() {
        return Err(format!("'{spec}': a package to install has no subpath (give name@range)"));
    }
    Ok(parsed)
}

fn parse_npm(specifier: &str) -> Result<PackageRef, String> {
    let reference = NpmPackageReqReference::from_str(specifier).map_err(|e| format!("'{specifier}': {e}"))?;
    let req = reference.req();
    let name = req.name.to_string();
    if !valid_name(&name) {
        return Err(format!("'{specifier}': '{name}' is not a valid npm package name"));
    }
    Ok(PackageRef {
        name,
        req: any_to_none(&req.version_req),
        sub_path: reference.sub_path().map(str::to_string),
    })
}

fn parse_jsr(specifier: &str) -> Result<PackageRef, String> {
    let reference = JsrPackageReqReference::from_str(specifier).map_err(|e| format!("'{specifier}': {e}"))?;
    let req = reference.req();
    let name = jsr_to_npm_name(&req.name)
        .ok_or_else(|| format!("'{specifier}': a JSR package is named @scope/name"))?;
    Ok(PackageRef {
        name,
        req: any_to_none(&req.version_req),
        sub_path: reference.sub_path().map(str::to_string),
    })
}

fn any_to_none(req: &VersionReq) -> Option<VersionReq> {
    (req.version_text() != "*").then(|| req.clone())
}

/// Not relative, not absolute, not a URL (`c:` would be a URL scheme too: a bare name has no `:`).
fn is_bare(specifier: &str) -> bool {
    !(specifier.is_empty()
        || specifier.starts_with("./")
        || specifier.starts_with("../")
        || specifier == "."
        || specifier == ".."
        || specifier.starts_with('/')
        || specifier.starts_with('#')
        || specifier.contains(':'))
}

/// npm's rules, loosely: lowercase-insensitive letters, digits and `-._~`, an optional scope; never
/// `.`/`..` segments (a name is a directory under node_modules).
pub fn valid_name(name: &str) -> bool {
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && !s.starts_with('.')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
    };
    match name.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('/') {
            Some((scope, rest)) => segment_ok(scope) && segment_ok(rest),
            None => false,
        },
        None => segment_ok(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(r: &PackageRef) -> (&str, Option<&str>, Option<&str>) {
        (r.name.as_str(), r.req_text(), r.sub_path.as_deref())
    }

    #[test]
    fn imports_from_code() {
        let cases: &[(&str, (&str, Option<&str>, Option<&str>))] = &[
            ("npm:zod", ("zod", None, None)),
            ("npm:zod@^3.23", ("zod", Some("^3.23"), None)),
            ("npm:zod@3/v4", ("zod", Some("3"), Some("v4"))),
            ("npm:@types/node@22/fs", ("@types/node", Some("22"), Some("fs"))),
            ("npm:nanoid@latest", ("nanoid", Some("latest"), None)),
            ("jsr:@std/path", ("@jsr/std__path", None, None)),
            ("jsr:@std/path@^1/posix", ("@jsr/std__path", Some("^1"), Some("posix"))),
            ("npm:/lodash@4/padStart.js", ("lodash", Some("4"), Some("padStart.js"))),
            ("lodash", ("lodash", None, None)),
            ("lodash/fp", ("lodash", None, Some("fp"))),
            ("@scope/pkg/deep/file.js", ("@scope/pkg", None, Some("deep/file.js"))),
        ];
        for (specifier, expected) in cases {
            let r = parse_import(specifier).unwrap().unwrap();
            assert_eq!(parts(&r), *expected, "{specifier}");
        }
        for not_a_package in ["./a.js", "../b", "/abs", "file:///x", "https://x/y.js", "data:text/javascript,1", "#imp"] {
            assert!(parse_import(not_a_package).is_none(), "{not_a_package}");
        }
        for invalid in ["@scope", "npm:", "jsr:std/path", "..", ".hidden/x"] {
            let parsed = parse_import(invalid);
            assert!(parsed.is_none_or(|r| r.is_err()), "{invalid} accepted");
        }
        assert!(parse_import("lodash/../../etc").unwrap().is_ok(), "subpaths are checked where they lead, at load");
    }

    #[test]
    fn install_specs() {
        let r = parse_install("zod@^3.23").unwrap();
        assert_eq!(parts(&r), ("zod", Some("^3.23"), None));
        assert_eq!(parts(&parse_install("npm:axios@^1").unwrap()), ("axios", Some("^1"), None));
        assert_eq!(parts(&parse_install("jsr:@std/path").unwrap()), ("@jsr/std__path", None, None));
        assert_eq!(parts(&parse_install(" lodash ").unwrap()), ("lodash", None, None));
        assert!(parse_install("zod/v4").unwrap_err().contains("no subpath"));
        assert!(parse_install("../x").is_err());
    }
}
