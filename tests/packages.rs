//! npm packages the administrator installed, `node:` built-ins, `jsr:` through npm and the
//! import map, through the MCP client with zero permissions (docs/packages.md).
//!
//! Setup: the pinned npm packages are installed once with our own `mcp-conductor packages add`
//! into a cache outside the checkout (`~/.cache/mcp-conductor/test-packages/`, needs npm and the
//! registry the first time); each test copies them into its own packages directory with the
//! hand-made fixtures (`tests/fixtures/packages/`). Servers run behind an unreachable proxy, so
//! any network use would fail.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{BIN, Server};
use serde_json::json;

const PINNED: [&str; 6] = ["zod@3.23.8", "lodash@4.17.21", "nanoid@5.0.9", "ms@2.1.3", "uuid@9.0.1", "mime-types@2.1.35"];
const FIXTURES: [&str; 4] = ["cond-exports", "cjs-only", "@jsr/std__path", "reads-outside"];
const NPMRC_SECRET: &str = "//registry.npmjs.org/:_authToken=npm_SECRET_TOKEN";

/// The npm packages, installed once (by our CLI) into the cache.
fn npm_cache() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let home = std::env::var("HOME").expect("HOME");
        let dir = PathBuf::from(home).join(".cache/mcp-conductor/test-packages").join(PINNED.join(",").replace(['@', '/'], "_"));
        if dir.join(".complete").exists() {
            return dir;
        }
        let partial = dir.with_extension("partial");
        let _ = std::fs::remove_dir_all(&partial);
        let status = std::process::Command::new(BIN)
            .args(["packages", "add"])
            .args(PINNED)
            .env("MCP_CONDUCTOR_PACKAGES_DIR", &partial)
            .status()
            .expect("run mcp-conductor packages add");
        assert!(status.success(), "`mcp-conductor packages add {}` failed (needs npm and the npm registry once)", PINNED.join(" "));
        std::fs::write(partial.join(".complete"), "").unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&partial, &dir).unwrap();
        dir
    })
}

fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap();
    assert!(status.success(), "cp -a {} {}", from.display(), to.display());
}

/// A packages directory of its own: the npm packages, the fixtures (added to `package.json`),
/// `node_modules/evil -> /etc` (also listed) and an `.npmrc` holding a token.
fn packages_dir(root: &Path) -> PathBuf {
    let dir = root.join("packages");
    copy_dir(npm_cache(), &dir);
    std::fs::remove_file(dir.join(".complete")).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/packages");
    std::fs::create_dir_all(dir.join("node_modules/@jsr")).unwrap();
    let manifest_path = dir.join("package.json");
    let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    for name in FIXTURES {
        copy_dir(&fixtures.join(name), &dir.join("node_modules").join(name));
        manifest["dependencies"][name] = json!("*");
    }
    std::os::unix::fs::symlink("/etc", dir.join("node_modules/evil")).unwrap();
    manifest["dependencies"]["evil"] = json!("*");
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    std::fs::write(dir.join(".npmrc"), NPMRC_SECRET).unwrap();
    dir
}

/// What npm needs from the real environment when the server runs it (the harness clears the
/// environment): the machine's CA settings (a TLS-intercepting proxy) and npm's own cache.
static NPM_ENV: std::sync::LazyLock<Vec<(&'static str, Option<String>)>> = std::sync::LazyLock::new(|| {
    let home = std::env::var("HOME").unwrap_or_default();
    let mut env: Vec<(&str, Option<String>)> = ["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "SSL_CERT_DIR"]
        .into_iter()
        .map(|name| (name, std::env::var(name).ok()))
        .collect();
    env.push(("npm_config_cache", Some(format!("{home}/.npm"))));
    env.push(("npm_config_userconfig", Some(format!("{home}/.npmrc"))));
    env
});

/// No network: a proxy nobody listens on.
const OFFLINE: [(&str, &str); 4] = [
    ("HTTP_PROXY", "http://127.0.0.1:9"),
    ("HTTPS_PROXY", "http://127.0.0.1:9"),
    ("http_proxy", "http://127.0.0.1:9"),
    ("https_proxy", "http://127.0.0.1:9"),
];

async fn server_with(run_args: &str, extra: &[(&str, &str)]) -> (Server, tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = packages_dir(root.path());
    let dir_text = dir.display().to_string();
    let mut env: Vec<(&str, &str)> = OFFLINE.to_vec();
    env.push(("MCP_CONDUCTOR_PACKAGES_DIR", &dir_text));
    env.extend_from_slice(extra);
    let server = Server::start_env(run_args, &env).await;
    (server, root, dir)
}

#[tokio::test]
async fn every_import_form_works_with_zero_permissions() {
    let (s, _root, _dir) = server_with("", &[]).await;
    let cases: &[(&str, &str, serde_json::Value)] = &[
        ("npm: ESM+CJS package", "import { z } from 'npm:zod'; z.object({ a: z.number() }).parse({ a: 1 })", json!({"a": 1})),
        ("npm: with a range", "import { z } from 'npm:zod@^3.23'; z.string().parse('x')", json!("x")),
        ("npm: tag means the installed one", "import { z } from 'npm:zod@latest'; typeof z.string", json!("function")),
        ("bare name (CommonJS)", "import _ from 'lodash'; _.chunk([1, 2, 3, 4], 2)", json!([[1, 2], [3, 4]])),
        ("bare name/subpath", "import fp from 'lodash/fp.js'; typeof fp.map", json!("function")),
        ("npm:name/subpath", "import chunk from 'npm:lodash@4/chunk.js'; chunk([1, 2, 3], 2)", json!([[1, 2], [3]])),
        ("ESM-only package", "import { nanoid } from 'npm:nanoid@5'; nanoid(10).length", json!(10)),
        ("exports conditions, named CJS exports", "import { v4, validate } from 'uuid'; validate(v4())", json!(true)),
        ("CommonJS default export", "import ms from 'npm:ms'; ms('2h')", json!(7_200_000)),
        ("a package reading its own data file", "import mime from 'mime-types'; mime.lookup('x.json')", json!("application/json")),
        ("dynamic import", "(await import('npm:ms')).default(1000)", json!("1s")),
        (
            "createRequire(import.meta.url)",
            "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); require('lodash').VERSION",
            json!("4.17.21"),
        ),
        (
            "require of a CommonJS-only package",
            "import { createRequire } from 'node:module'; const m = createRequire(import.meta.url)('cjs-only'); [m.double(21), m.data.answer, m.dirnameIsInPackage]",
            json!([42, 42, true]),
        ),
        ("import of a CommonJS-only package", "import m from 'cjs-only'; m.double(4)", json!(8)),
        ("exports: import condition", "import { flavor } from 'cond-exports'; flavor", json!("import")),
        (
            "exports: require condition",
            "import { createRequire } from 'node:module'; createRequire(import.meta.url)('cond-exports').flavor",
            json!("require"),
        ),
        ("exports: node condition", "import f from 'cond-exports/feature'; f", json!("node condition")),
        ("jsr: through @jsr/ on npm", "import { join, fromJsr } from 'jsr:@std/path@^1'; [join('a', 'b'), fromJsr]", json!(["a/b", true])),
        ("jsr: subpath", "import { sep } from 'jsr:@std/path/posix'; sep", json!("/")),
        ("node: static import", "import path from 'node:path'; path.join('a', 'b')", json!("a/b")),
        (
            "node: dynamic import",
            "const { createHash } = await import('node:crypto'); createHash('sha256').update('x').digest('hex').length",
            json!(64),
        ),
        ("bare built-in name", "import { EventEmitter } from 'events'; typeof EventEmitter", json!("function")),
        ("built-in subpath", "import fsp from 'fs/promises'; typeof fsp.readFile", json!("function")),
        ("process.getBuiltinModule", "process.getBuiltinModule('node:path').basename('/a/b.txt')", json!("b.txt")),
        ("synthetic ESM node:url", "import { fileURLToPath } from 'node:url'; fileURLToPath('file:///a/b')", json!("/a/b")),
        ("synthetic ESM node:util", "import { format } from 'node:util'; format('%s=%d', 'x', 1)", json!("x=1")),
        (
            "synthetic ESM node:zlib",
            "import { gzipSync, gunzipSync } from 'node:zlib'; new TextDecoder().decode(gunzipSync(gzipSync('hi')))",
            json!("hi"),
        ),
        ("synthetic ESM node:worker_threads", "import { isMainThread } from 'node:worker_threads'; isMainThread", json!(true)),
        ("require of a built-in", "import { createRequire } from 'node:module'; createRequire(import.meta.url)('os').EOL", json!("\n")),
        ("Node globals", "[typeof process.version, typeof Buffer.from, typeof global, typeof setImmediate]", json!(["string", "function", "object", "function"])),
        (
            "fs reads a package file with no read permission",
            "import fs from 'node:fs'; JSON.parse(fs.readFileSync(import.meta.resolve('npm:ms').slice(7).replace('index.js', 'package.json'), 'utf8')).name",
            json!("ms"),
        ),
    ];
    for (what, code, expected) in cases {
        let r = s.run(code).await;
        assert_eq!(r.status(), "success", "{what}: {code}\n{r:#?}");
        assert_eq!(r.value(), expected, "{what}: {code}");
    }
}

#[tokio::test]
async fn refused_imports_say_why() {
    let (s, _root, _dir) = server_with("", &[]).await;
    let cases: &[(&str, &[&str])] = &[
        ("import 'npm:zod@^2'", &["zod@^2", "3.23.8"]),
        ("import 'npm:left-pad'", &["'left-pad' is not one of the packages installed", "lodash", "zod", "packages add left-pad"]),
        // mime-db is installed (a dependency of mime-types) but not in the allow-list.
        ("import 'mime-db'", &["'mime-db' is not one of the packages installed"]),
        ("import 'node:inspector'", &["node:inspector", "not available in the mcp-conductor sandbox"]),
        ("import 'node:repl'", &["node:repl", "not available"]),
        ("import 'node:no_such_module'", &["no such Node.js built-in module"]),
        ("process.getBuiltinModule('inspector')", &["not available in the mcp-conductor sandbox"]),
        ("import 'npm:lodash/../../../etc/passwd'", &["Import of"]),
        ("import 'evil/passwd'", &["passwd"]),
    ];
    for (code, needles) in cases {
        let r = s.run(code).await;
        assert_eq!(r.status(), "error", "{code}: {r:#?}");
        for needle in *needles {
            assert!(r.error().contains(needle), "{code}: error lacks {needle:?}: {}", r.error());
        }
    }
    s.assert_healthy().await;
}

#[tokio::test]
async fn without_packages_the_error_says_how_to_add_them() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("none").display().to_string();
    let s = Server::start_env("", &[("MCP_CONDUCTOR_PACKAGES_DIR", &dir)]).await;
    let r = s.run("import x from 'npm:lodash'; x").await;
    assert_eq!(r.error_type(), "runtime");
    for needle in ["no npm packages are installed", &dir, "mcp-conductor packages add lodash"] {
        assert!(r.error().contains(needle), "lacks {needle:?}: {}", r.error());
    }
    // Built-ins need no packages.
    assert_eq!(s.run("import os from 'node:os'; typeof os.cpus").await.value(), &json!("function"));
}

/// Resolution never looks at the workspace: a `node_modules` planted there (code may write
/// the workspace) is never used, by `import` or by `require`.
#[tokio::test]
async fn a_node_modules_planted_in_the_workspace_is_never_used() {
    let (s, _root, _dir) = server_with("allow-read={ws},allow-write={ws}", &[]).await;
    let plant = r#"
        for (const name of ["lodash", "planted-only"]) {
          Deno.mkdirSync(`${WORKSPACE_DIR}/node_modules/${name}`, { recursive: true });
          Deno.writeTextFileSync(`${WORKSPACE_DIR}/node_modules/${name}/package.json`, JSON.stringify({ name, version: "4.17.21", main: "index.js" }));
          Deno.writeTextFileSync(`${WORKSPACE_DIR}/node_modules/${name}/index.js`, "module.exports = { VERSION: 'planted' };");
        }
        Deno.writeTextFileSync(`${WORKSPACE_DIR}/package.json`, JSON.stringify({ dependencies: { "planted-only": "*" } }));
        1
    "#;
    assert_eq!(s.run(plant).await.value(), &json!(1));
    assert_eq!(s.run("import _ from 'lodash'; _.VERSION").await.value(), &json!("4.17.21"));
    assert_eq!(
        s.run("import { createRequire } from 'node:module'; createRequire(import.meta.url)('lodash').VERSION").await.value(),
        &json!("4.17.21")
    );
    let r = s.run("import p from 'planted-only'; p").await;
    assert!(r.error().contains("'planted-only' is not one of the packages installed"), "{r:#?}");
    let r = s.run("import { createRequire } from 'node:module'; createRequire(import.meta.url)('planted-only')").await;
    assert!(r.error().contains("Cannot find module"), "{r:#?}");
}

/// Package code gets no more than the execution: reading and writing outside `node_modules`
/// follow the permissions; the packages directory is never writable and readable only below
/// `node_modules`, whatever `allow-read`/`allow-write` grant.
#[tokio::test]
async fn the_packages_directory_is_confined() {
    let (s, _root, dir) = server_with("", &[]).await;
    let r = s.run("import m from 'reads-outside'; m.readHostname()").await;
    assert_eq!(r.error_type(), "permission", "{r:#?}");
    let r = s.run("import { createRequire } from 'node:module'; createRequire(import.meta.url)('/etc/passwd')").await;
    assert_eq!(r.status(), "error", "{r:#?}");
    s.assert_healthy().await;

    let (s, _root2, dir2) = server_with("allow-read,allow-write", &[]).await;
    let npmrc = dir2.join(".npmrc").display().to_string();
    let r = s.run(&format!("Deno.readTextFileSync({npmrc:?})")).await;
    assert_eq!(r.status(), "error", "{r:#?}");
    assert!(!r.text.to_string().contains("SECRET"), "{r:#?}");
    let r = s.run(&format!("import fs from 'node:fs'; fs.readFileSync({npmrc:?}, 'utf8')")).await;
    assert!(!r.text.to_string().contains("SECRET") && r.status() == "error", "{r:#?}");
    let manifest = dir2.join("package.json").display().to_string();
    assert_eq!(s.run(&format!("Deno.readTextFileSync({manifest:?})")).await.status(), "error");
    let target = dir2.join("node_modules/ms/index.js").display().to_string();
    let r = s.run(&format!("Deno.writeTextFileSync({target:?}, 'module.exports = () => \"pwned\"')")).await;
    assert_eq!(r.error_type(), "permission", "{r:#?}");
    let r = s.run(&format!("import fs from 'node:fs'; fs.writeFileSync({target:?}, 'x')")).await;
    assert_eq!(r.status(), "error", "{r:#?}");
    let new_pkg = dir2.join("node_modules/new-pkg").display().to_string();
    assert_eq!(s.run(&format!("Deno.mkdirSync({new_pkg:?})")).await.error_type(), "permission");
    assert_eq!(s.run("import ms from 'ms'; ms(1000)").await.value(), &json!("1s"), "ms is intact");
    // The symlink out of node_modules leads where reading needs permission again: allowed here.
    assert!(s.run("import fs from 'node:fs'; fs.existsSync('/etc/hostname')").await.value().as_bool().unwrap());
    s.assert_healthy().await;
    drop(dir);
}

#[tokio::test]
async fn the_import_map_maps_names() {
    let root = tempfile::tempdir().unwrap();
    let map = root.path().join("import_map.json");
    std::fs::write(
        &map,
        json!({ "imports": { "z": "npm:zod@^3", "@std/path": "jsr:@std/path@^1", "fmt/": "npm:/lodash@4/" } }).to_string(),
    )
    .unwrap();
    let map_text = map.display().to_string();
    let (s, _root, _dir) = server_with("", &[("MCP_CONDUCTOR_IMPORT_MAP", &map_text)]).await;
    assert_eq!(s.run("import { z } from 'z'; z.number().parse(3)").await.value(), &json!(3));
    assert_eq!(s.run("import { join } from '@std/path'; join('x', 'y')").await.value(), &json!("x/y"));
    assert_eq!(s.run("import pad from 'fmt/padStart.js'; pad('1', 3, '0')").await.value(), &json!("001"));
    let r = s.run(&format!("Deno.writeTextFileSync({map_text:?}, '{{}}')")).await;
    assert_eq!(r.status(), "error", "the import map is never writable: {r:#?}");
}

/// A `deno.json` in the packages directory is the default import map.
#[tokio::test]
async fn deno_json_in_the_packages_directory_is_the_default_import_map() {
    let (s, _root, dir) = server_with("", &[]).await;
    std::fs::write(dir.join("deno.json"), r#"{ "imports": { "duration": "npm:ms@^2" } }"#).unwrap();
    assert_eq!(s.run("import ms from 'duration'; ms(60000)").await.value(), &json!("1m"));
}

/// Installed while the server runs: importable at the next execution, no restart.
#[tokio::test]
async fn a_package_added_while_the_server_runs_is_importable() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("packages");
    let dir_text = dir.display().to_string();
    let mut env = OFFLINE.to_vec();
    env.push(("MCP_CONDUCTOR_PACKAGES_DIR", &dir_text));
    let s = Server::start_env("", &env).await;
    assert!(s.run("import ms from 'ms'; ms(1000)").await.error().contains("no npm packages are installed"));
    // The administrator adds it (our CLI, npm's cache from the setup makes this quick).
    let status = std::process::Command::new(BIN)
        .args(["packages", "add", "ms@2.1.3"])
        .env("MCP_CONDUCTOR_PACKAGES_DIR", &dir)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(s.run("import ms from 'ms'; ms(1000)").await.value(), &json!("1s"));
    let listed = std::process::Command::new(BIN).args(["packages", "list"]).env("MCP_CONDUCTOR_PACKAGES_DIR", &dir).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "ms\t2.1.3\t2.1.3");
}

/// `MCP_CONDUCTOR_PACKAGES` installs what is missing before the server answers.
#[tokio::test]
async fn startup_installs_listed_packages() {
    npm_cache(); // npm's own cache holds ms from the setup
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("packages").display().to_string();
    let mut env = vec![("MCP_CONDUCTOR_PACKAGES_DIR", dir.as_str()), ("MCP_CONDUCTOR_ALLOWED_PACKAGES", "npm:ms@2.1.3")];
    env.extend(NPM_ENV.iter().filter_map(|(name, value)| value.as_deref().map(|v| (*name, v))));
    let s = Server::start_env("", &env).await;
    assert_eq!(s.run("import ms from 'npm:ms@2'; ms(2000)").await.value(), &json!("2s"));
}

#[tokio::test]
async fn a_timeout_during_a_large_import_is_a_timeout() {
    let (s, _root, _dir) = server_with("", &[]).await;
    // The imports are used: TypeScript drops unused ones, and then nothing would load.
    let r = s.run_timeout("import _ from 'lodash'; import { z } from 'zod'; [typeof _.chunk, typeof z.string]", 1).await;
    assert_eq!(r.error_type(), "timeout", "{r:#?}");
    assert_eq!(s.run("import _ from 'lodash'; _.VERSION").await.value(), &json!("4.17.21"));
}
