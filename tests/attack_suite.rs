//! The attack suite: hostile code, one case after another against one server with zero
//! permissions (and one with some granted). Every case must end as expected and the server
//! must answer `1+1` correctly right after it.

mod common;

use common::{Run, Server};
use serde_json::json;

/// What a case must end with.
enum Expect {
    /// `errorType` of a failed execution.
    Error(&'static str),
    /// A successful execution returning this JSON.
    Value(serde_json::Value),
    /// The error message contains this text.
    ErrorContaining(&'static str),
    /// Refused, by a permission check or by the sandbox (`errorType` permission or runtime).
    Refused,
}

struct Case {
    name: &'static str,
    code: String,
    timeout_ms: u64,
    expect: Expect,
}

fn case(name: &'static str, code: &str, expect: Expect) -> Case {
    Case { name, code: code.to_string(), timeout_ms: 3000, expect }
}

fn timed(name: &'static str, code: &str, timeout_ms: u64, expect: Expect) -> Case {
    Case { name, code: code.to_string(), timeout_ms, expect }
}

fn check(case: &Case, r: &Run) {
    let brief = brief(r);
    match &case.expect {
        Expect::Error(kind) => {
            assert_eq!(r.status(), "error", "{}: expected an error, got {brief}", case.name);
            assert_eq!(r.error_type(), *kind, "{}: {brief}", case.name);
        }
        Expect::Value(v) => {
            assert_eq!(r.status(), "success", "{}: {brief}", case.name);
            assert_eq!(&r.text["returnValue"], v, "{}", case.name);
        }
        Expect::Refused => {
            assert_eq!(r.status(), "error", "{}: expected an error, got {brief}", case.name);
            assert!(["permission", "runtime"].contains(&r.error_type()), "{}: {brief}", case.name);
        }
        Expect::ErrorContaining(text) => {
            assert_eq!(r.status(), "error", "{}: expected an error, got {brief}", case.name);
            assert!(r.error().contains(text), "{}: {brief}", case.name);
        }
    }
}

/// A run for a failure message, cut short (a case's output can be megabytes).
fn brief(r: &Run) -> String {
    let text = format!("{r:?}");
    if text.len() <= 2000 { text } else { format!("{}… ({} bytes)", text.chars().take(2000).collect::<String>(), text.len()) }
}

async fn run_all(s: &Server, cases: &[Case]) {
    run_cases(s, cases, false).await;
}

/// Every case, then: the server answers, and (with `check_process`) its process state is what
/// it was.
async fn run_cases(s: &Server, cases: &[Case], check_process: bool) {
    let before = check_process.then(|| process_state(s.pid));
    let mut failed = Vec::new();
    for case in cases {
        let r = s.run_timeout(&case.code, case.timeout_ms).await;
        // Every case runs; the failures are reported together.
        if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(case, &r))) {
            let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            failed.push(message.chars().take(600).collect::<String>());
        }
        let healthy = s.run("1+1").await;
        assert_eq!(healthy.value(), &json!(2), "server unhealthy after {}", case.name);
        if let Some(before) = &before {
            assert_eq!(&process_state(s.pid), before, "server process state changed by {}", case.name);
        }
    }
    assert!(failed.is_empty(), "{} case(s) failed:\n{}", failed.len(), failed.join("\n\n"));
}

#[tokio::test]
async fn zero_permission_attacks() {
    use Expect::*;
    let s = Server::start("").await;
    let five_mb = format!("const s = \"{}\"; s.length", "x".repeat(5 << 20));
    let cases = [
        // Files, environment, processes, network.
        case("read /etc/passwd", r#"Deno.readTextFileSync("/etc/passwd")"#, Error("permission")),
        case("read /proc/self/environ", r#"await Deno.readFile("/proc/self/environ")"#, Error("permission")),
        case("read ~/.ssh", r#"[...Deno.readDirSync(Deno.env.get("HOME") + "/.ssh")]"#, Error("permission")),
        case("write outside the workspace", r#"Deno.writeTextFileSync("/tmp/mcp-conductor-pwned", "x")"#, Error("permission")),
        case("write inside the workspace", r#"Deno.writeTextFileSync("x.txt", "x")"#, Error("permission")),
        case("fetch a remote host", r#"await fetch("https://example.com")"#, Error("permission")),
        case("fetch 127.0.0.1", r#"await fetch("http://127.0.0.1:65500/")"#, Error("permission")),
        case("connect to localhost", r#"await Deno.connect({ hostname: "localhost", port: 22 })"#, Error("permission")),
        case("Deno.env", r#"Deno.env.toObject()"#, Error("permission")),
        case("Deno.Command", r#"new Deno.Command("id").outputSync()"#, Error("permission")),
        case("Deno.exit", "Deno.exit(3)", Error("exit")),
        case(
            "Deno.permissions.request never prompts",
            r#"(await Deno.permissions.request({ name: "read" })).state"#,
            Value(json!("denied")),
        ),
        case("Deno.openKv", "await Deno.openKv()", ErrorContaining("unstable API")),
        case("Deno.cron", r#"Deno.cron("x", "* * * * *", () => {})"#, Error("runtime")),
        // Internals.
        case(
            "Deno.core, __bootstrap and internal ops are out of reach",
            r#"[typeof Deno.core, typeof globalThis.__bootstrap, typeof Deno[Deno.internal]?.core, typeof globalThis.op_conductor_host]"#,
            Value(json!(["undefined", "undefined", "undefined", "undefined"])),
        ),
        case(
            "the glue hook is frozen",
            r#"const key = Symbol.for("mcp-conductor"), h = globalThis[key]; let refused = 0;
               try { h.run = () => 1; } catch { refused++; }
               try { delete globalThis[key]; } catch { refused++; }
               [refused, Object.isFrozen(h), typeof globalThis[key]]"#,
            Value(json!([2, true, "object"])),
        ),
        // State that must not reach the next execution.
        case("prototype pollution", "Object.prototype.polluted = 1; Array.prototype.x = 2; 1", Value(json!(1))),
        case("pollution is gone", "[({}).polluted ?? null, [].x ?? null]", Value(json!([null, null]))),
        case("global state", "globalThis.leak = 'secret'; 1", Value(json!(1))),
        case("global state is gone", "typeof globalThis.leak", Value(json!("undefined"))),
        // Loops and hangs.
        timed("infinite loop", "while (true) {}", 500, Error("timeout")),
        timed("infinite microtask loop", "for (;;) await null;", 500, Error("timeout")),
        timed("busy loop in try/finally", "try { while (true) {} } finally { while (true) {} }", 500, Error("timeout")),
        timed(
            "SIGTERM listener then a busy loop",
            r#"try { Deno.addSignalListener("SIGTERM", () => {}); } catch {} while (true) {}"#,
            500,
            Error("timeout"),
        ),
        timed("ReDoS", r#"/^(a+)+$/.test("a".repeat(40) + "!")"#, 500, Error("timeout")),
        timed(
            "WebAssembly busy loop",
            // (module (func (export "spin") (loop (br 0))))
            r#"const bytes = new Uint8Array([0,97,115,109,1,0,0,0,1,4,1,96,0,0,3,2,1,0,7,8,1,4,115,112,105,110,0,0,10,9,1,7,0,3,64,12,0,11,11]);
               const { instance } = await WebAssembly.instantiate(bytes); instance.exports.spin();"#,
            500,
            Error("timeout"),
        ),
        // Memory, output, stack.
        case("array growth", "const a = []; while (true) a.push(new Array(1e5).fill(1));", Error("memory")),
        case(
            "a caught out-of-memory error still ends the execution",
            "let r = []; try { for (;;) r.push(new Array(1e5).fill(1)); } catch { r = null; } 'survived'",
            Error("memory"),
        ),
        case("string doubling", "let s = 'x'; while (true) s += s;", Error("runtime")),
        case("huge ArrayBuffers", "const keep = []; while (true) keep.push(new ArrayBuffer(64 << 20));", Error("memory")),
        timed("print flood", r#"for (;;) console.log("x".repeat(1000));"#, 1000, Error("timeout")),
        case("deep recursion", "function f(n) { return f(n + 1) + 1; } f(0)", Error("runtime")),
        case("new Worker", r#"new Worker("data:text/javascript,1")"#, ErrorContaining("not available")),
        // Input and output channels.
        case("read stdin", "const buf = new Uint8Array(16); await Deno.stdin.read(buf)", Value(json!(null))),
        case(
            "JSON-RPC-looking output",
            r#"const fake = '{"jsonrpc":"2.0","id":1,"result":{}}'; console.log(fake); console.error(fake); await Deno.stdout.write(new TextEncoder().encode(fake + "\n")); 7"#,
            Value(json!(7)),
        ),
        Case { name: "5 MB of code", code: five_mb, timeout_ms: 20_000, expect: Value(json!(5 << 20)) },
    ];
    run_all(&s, &cases).await;
}

#[tokio::test]
async fn attacks_with_permissions_granted() {
    use Expect::*;
    let s = Server::start("allow-read={ws},allow-write={ws},allow-env,allow-run=sh,allow-net=127.0.0.1").await;
    let cases = [
        case("chdir", r#"Deno.chdir("/")"#, ErrorContaining("not available")),
        case("umask(mask)", "Deno.umask(0o777)", ErrorContaining("not available")),
        case("env.set", r#"Deno.env.set("X", "1")"#, ErrorContaining("not available")),
        case("state after", "[Deno.cwd() === WORKSPACE_DIR, Deno.env.get('X') ?? null]", Value(json!([true, null]))),
        case("read outside the allowed dir", r#"Deno.readTextFileSync("/etc/hostname")"#, Error("permission")),
        case("run a command not allowed", r#"new Deno.Command("id").outputSync()"#, Error("permission")),
        case(
            "children spawned by an allowed shell still see no client stdin",
            r#"new TextDecoder().decode(new Deno.Command("sh", { args: ["-c", "cat"], stdin: "inherit" }).outputSync().stdout)"#,
            Value(json!("")),
        ),
    ];
    run_all(&s, &cases).await;
}

/// What code must never change in the server process: cwd, umask, uids/gids, environment,
/// process title. Read from /proc by the test, not by the server.
#[derive(Debug, PartialEq)]
struct ProcessState {
    cwd: std::path::PathBuf,
    status: Vec<String>,
    environ: Vec<u8>,
    comm: String,
}

fn process_state(pid: u32) -> ProcessState {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let status = status
        .lines()
        .filter(|l| ["Umask:", "Uid:", "Gid:", "Groups:"].iter().any(|k| l.starts_with(k)))
        .map(String::from)
        .collect();
    ProcessState {
        cwd: std::fs::read_link(format!("/proc/{pid}/cwd")).expect("cwd"),
        status,
        environ: std::fs::read(format!("/proc/{pid}/environ")).expect("environ"),
        comm: std::fs::read_to_string(format!("/proc/{pid}/comm")).expect("comm"),
    }
}

/// deno_runtime exposes Node's APIs too (`process`, `Buffer`, `node:*`); they reach ops directly,
/// past the JS-level patches on `Deno.*`. Guarded at the op level (src/sandbox/op_guards.rs).
fn node_surface_cases(granted: bool) -> Vec<Case> {
    use Expect::*;
    // Reading the umask needs allow-sys.
    let umask_read = if granted { Value(json!("number")) } else { Error("permission") };
    vec![
        case("process.abort()", "process.abort()", ErrorContaining("not available")),
        case("process.kill(own pid)", "process.kill(process.pid, 'SIGKILL')", ErrorContaining("not available")),
        case("Deno.kill(own pid)", "Deno.kill(Deno.pid, 'SIGKILL')", ErrorContaining("not available")),
        case("Deno.kill(0)", "Deno.kill(0, 'SIGTERM')", ErrorContaining("not available")),
        case("Deno.kill(-1)", "Deno.kill(-1, 'SIGKILL')", ErrorContaining("not available")),
        case("process.kill(-pid)", "process.kill(-process.pid, 'SIGKILL')", ErrorContaining("not available")),
        case("new Buffer(1)", "new Buffer(1).length", Value(json!(1))),
        case("Buffer.from", "Buffer.from('hi').toString('base64')", Value(json!("aGk="))),
        case(
            "createRequire of a missing package",
            "import { createRequire } from 'node:module'; createRequire(import.meta.url)('x')",
            ErrorContaining("Cannot find module"),
        ),
        case("dynamic node: import", "typeof (await import('node:fs')).readFileSync", Value(json!("function"))),
        case("process.getBuiltinModule", "typeof process.getBuiltinModule('fs').readFileSync", Value(json!("function"))),
        case(
            "worker_threads.Worker",
            "new (process.getBuiltinModule('worker_threads').Worker)('./w.js')",
            Refused,
        ),
        // Raw descriptors: the MCP transport and the server's log are numbers too.
        case("net.Socket({ fd })", "new (await import('node:net')).Socket({ fd: 5 })", ErrorContaining("Unsupported fd type")),
        case("net.Server.listen({ fd })", "(await import('node:net')).createServer().listen({ fd: 5 })", ErrorContaining("fd")),
        case(
            "a socket handle's open(fd)",
            "const net = await import('node:net'); const s = new net.Socket(); s.on('error', () => {}); try { s.connect({ path: '/nonexistent' }) } catch {} s._handle.open(5)",
            Value(json!(-9)),
        ),
        case(
            "a dgram handle's open(fd)",
            "const s = (await import('node:dgram')).createSocket('udp4'); s._handle.open(5)",
            Value(json!(-4094)),
        ),
        case("tty.ReadStream(0)", "new (await import('node:tty')).ReadStream(0)", ErrorContaining("not available")),
        case("tty.WriteStream(5)", "new (await import('node:tty')).WriteStream(5)", ErrorContaining("not available")),
        case("process.binding", "process.binding('tty_wrap')", ErrorContaining("not available")),
        case(
            "process.binding through node:process",
            "(await import('node:process')).default.binding('pipe_wrap')",
            ErrorContaining("not available"),
        ),
        case(
            "internal/test/binding",
            "(await import('node:module')).createRequire(import.meta.url)('internal/test/binding')",
            ErrorContaining("not available"),
        ),
        case("node:inspector", "await import('node:inspector')", ErrorContaining("not available")),
        case("getBuiltinModule(inspector)", "process.getBuiltinModule('inspector')", ErrorContaining("not available")),
        case("require(node:inspector)", "(await import('node:module')).createRequire(import.meta.url)('node:inspector')", ErrorContaining("not available")),
        case("require(repl)", "(await import('node:module')).createRequire(import.meta.url)('repl')", ErrorContaining("not available")),
        case("node:wasi", "process.getBuiltinModule('wasi')", ErrorContaining("not available")),
        case("importing node:child_process works", "typeof (await import('node:child_process')).spawn", Value(json!("function"))),
        case("spawning without allow-run", "(await import('node:child_process')).execFileSync('true')", Refused),
        case("process.chdir", "process.chdir('/tmp')", Refused),
        case("process.umask(mask)", "process.umask(0o777)", Refused),
        case("process.umask() reads", "typeof process.umask()", umask_read),
        case("process.setuid", "process.setuid(65534)", Error("runtime")),
        case("process.setgid", "process.setgid(65534)", Error("runtime")),
        case("process.seteuid", "process.seteuid(65534)", Error("runtime")),
        case("process.setegid", "process.setegid(65534)", Error("runtime")),
        case("process.title", "process.title = 'pwned'; 1", Value(json!(1))),
        case("process.env write", "process.env.MCP_CONDUCTOR_PWNED = '1'", Error("runtime")),
        case("process.env delete", "delete process.env.PATH", Error("runtime")),
        case("process.loadEnvFile", "process.loadEnvFile('/etc/hostname')", Error("runtime")),
        case("new Worker", "new Worker('data:text/javascript,1', { type: 'module' })", ErrorContaining("not available")),
        case("process.on(SIGINT) is a harmless no-op", "process.on('SIGINT', () => {}); 1", Value(json!(1))),
        case("Deno.addSignalListener is a harmless no-op", "Deno.addSignalListener('SIGTERM', () => {}); 2", Value(json!(2))),
        case("process.exit(3)", "process.exit(3)", Error("exit")),
        case("Atomics.wait throws at once", "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)", Error("runtime")),
        case("refused import message", "await import('npm:left-pad')", ErrorContaining("packages add left-pad")),
    ]
}

#[tokio::test]
async fn node_surface_with_zero_permissions() {
    let s = Server::start("").await;
    run_cases(&s, &node_surface_cases(false), true).await;
}

/// Everything but `allow-run` and `allow-ffi` (a subprocess or a loaded library runs as the
/// server's user and can reach it: docs/security.md says so).
#[tokio::test]
async fn node_surface_with_every_permission_but_run_and_ffi() {
    let s = Server::start("allow-read,allow-write,allow-env,allow-net,allow-sys,allow-import").await;
    run_cases(&s, &node_surface_cases(true), true).await;
}

#[tokio::test]
async fn abandoned_threads_are_capped() {
    // A thread stuck in a blocking read of a FIFO nobody writes: termination cannot reach it.
    let s = Server::start_env("allow-read,allow-write={ws}", &[("MCP_CONDUCTOR_MAX_ABANDONED", "2")]).await;
    let fifo = s.ws().join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let block = format!("Deno.readTextFileSync({:?})", fifo.display().to_string());
    for _ in 0..2 {
        let r = s.run_timeout(&block, 200).await;
        assert_eq!(r.error_type(), "timeout", "{r:?}");
    }
    let refused = s.run("1+1").await;
    assert!(refused.error().contains("MCP_CONDUCTOR_MAX_ABANDONED"), "{refused:?}");
    // Other tools keep answering.
    s.call("list_playbooks", json!({})).await.expect("list_playbooks");
    // Releasing the stuck threads (a writer opens the FIFO and closes it: both readers get EOF)
    // frees the slots again.
    use std::os::unix::fs::OpenOptionsExt;
    drop(std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&fifo).expect("open the FIFO"));
    let mut healthy = false;
    for _ in 0..50 {
        if s.run("1+1").await.text["returnValue"] == json!(2) {
            healthy = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(healthy, "stuck threads were released but executions are still refused");
}

/// Source nested past what the parser's stack holds (every route swc parses: the code itself, a
/// TypeScript `data:` import built at run time, a playbook) is a syntax error, never a process
/// abort (`src/sandbox/nesting.rs`).
#[tokio::test]
async fn deep_nesting_is_a_syntax_error_on_every_route() {
    let s = Server::start("").await;
    let n = 12_000;
    // The shapes the nesting module's unit test refuses (src/sandbox/nesting.rs).
    let fixture: Vec<Vec<String>> = serde_json::from_str(include_str!("fixtures/deep-shapes.json")).unwrap();
    let shapes: Vec<String> =
        fixture.iter().skip(1).map(|s| format!("{}{}{}{}{}", s[0], s[1].repeat(n), s[2], s[3].repeat(n), s[4])).collect();
    for code in &shapes {
        let r = s.run(code).await;
        assert_eq!(r.error_type(), "syntax", "{}…: {r:?}", &code[..30]);
        assert!(r.error().contains("Nesting too deep"), "{r:?}");
    }
    // Built at run time and imported: the module loader's transpile is bounded the same way.
    let import = format!(
        "const src = 'export default ' + '['.repeat({n}) + ']'.repeat({n}); \
         await import('data:application/typescript,' + encodeURIComponent(src))"
    );
    let r = s.run(&import).await;
    assert!(r.error().contains("Nesting too deep"), "{r:?}");
    // A playbook's code is checked by the same parser, on a thread with the same stack.
    let r = s
        .call(
            "create_playbook",
            json!({"folder_name": "deep", "name": "Deep", "description": "d", "content": "c", "code": shapes[0]}),
        )
        .await
        .expect("create_playbook answers");
    assert_eq!(r.is_error, Some(true), "{r:?}");
    assert!(format!("{r:?}").contains("Nesting too deep"), "{r:?}");
    // Everyday depth still runs.
    let ok = format!("{}1{}", "[".repeat(500), "]".repeat(500));
    assert_eq!(s.run(&format!("JSON.stringify({ok}).length")).await.text["returnValue"], json!(1001));
    s.assert_healthy().await;
}

/// swc panics on a few malformed inputs (`0x_2n`: a separator right after the prefix of a
/// BigInt; `deno run` panics on it). On every route that parses (the code itself, a module
/// imported at run time, a playbook) it is a syntax error of that text, not an internal error.
#[tokio::test]
async fn a_parser_panic_is_a_syntax_error_on_every_route() {
    let s = Server::start("").await;
    let r = s.run("const big = 0x_2n").await;
    assert_eq!(r.error_type(), "syntax", "{r:?}");
    assert!(r.error().contains("Invalid or unexpected token"), "{r:?}");
    let r = s.run("await import('data:application/typescript,' + encodeURIComponent('export default 0b_1n'))").await;
    assert!(r.error().contains("Invalid or unexpected token"), "{r:?}");
    assert!(!r.error().contains("Internal error"), "{r:?}");
    let r = s
        .call(
            "create_playbook",
            json!({"folder_name": "bigint", "name": "B", "description": "d", "content": "c", "code": "export const b = 0o_7n"}),
        )
        .await
        .expect("create_playbook answers");
    assert_eq!(r.is_error, Some(true), "{r:?}");
    assert!(format!("{r:?}").contains("Invalid or unexpected token"), "{r:?}");
    assert_eq!(s.run("0x1_2n + 1n === 19n").await.text["returnValue"], json!(true));
    s.assert_healthy().await;
}

/// Thrown values the error path must survive: huge messages (capped, not a 200 MB response),
/// exotic objects whose every access throws.
#[tokio::test]
async fn exotic_and_huge_throws_end_the_execution_only() {
    let s = Server::start("").await;
    let r = s.run("throw new Error('m'.repeat(1e8))").await;
    assert_eq!(r.error_type(), "runtime", "{r:?}");
    assert!(r.error().len() < 70_000 && r.error().contains("error text truncated"), "{}", r.error().len());
    for code in [
        "const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); throw proxy",
        "throw new Proxy({}, { get() { throw new Error('trap') }, getPrototypeOf() { throw 1 }, ownKeys() { throw 2 } })",
        "throw { get message() { throw 1 }, get stack() { throw 2 }, toString() { throw 3 } }",
        "const e = new Error('x'); Object.defineProperty(e, 'stack', { get() { throw e } }); throw e",
        "throw Symbol('s')",
        "Promise.reject(new Proxy(function () {}, { get() { throw 1 } })); await new Promise(r => setTimeout(r, 10))",
        "throw 'z'.repeat(5e7)",
    ] {
        let r = s.run(code).await;
        assert_eq!(r.status(), "error", "{code}: {r:?}");
        assert!(r.error().len() < 70_000, "{code}: {} bytes", r.error().len());
    }
    s.assert_healthy().await;
}

/// Whole reads of files that never end or have no room in the cap: refused before Rust
/// allocates (memory outside the JS heap), whatever the route.
#[tokio::test]
async fn whole_file_reads_are_held_to_the_memory_cap() {
    use Expect::*;
    let s = Server::start_env("allow-read,allow-write={ws}", &[("MCP_CONDUCTOR_MAX_MEMORY_MB", "64")]).await;
    let cases = [
        case("readFile /dev/zero", r#"await Deno.readFile("/dev/zero")"#, ErrorContaining("MCP_CONDUCTOR_MAX_MEMORY_MB")),
        case("readFileSync /dev/zero", r#"Deno.readFileSync("/dev/zero")"#, ErrorContaining("MCP_CONDUCTOR_MAX_MEMORY_MB")),
        case("readTextFile /dev/zero", r#"await Deno.readTextFile("/dev/zero")"#, ErrorContaining("MCP_CONDUCTOR_MAX_MEMORY_MB")),
        case(
            "node fs.readFileSync /dev/zero",
            r#"const fs = await import("node:fs"); fs.readFileSync("/dev/zero")"#,
            ErrorContaining("MCP_CONDUCTOR_MAX_MEMORY_MB"),
        ),
        case(
            "a sparse 8 GB file",
            r#"const f = WORKSPACE_DIR + "/sparse"; Deno.writeFileSync(f, new Uint8Array(1)); Deno.truncateSync(f, 8 * 2 ** 30); await Deno.readFile(f)"#,
            ErrorContaining("MCP_CONDUCTOR_MAX_MEMORY_MB"),
        ),
        case("import /dev/zero", r#"await import("file:///dev/zero")"#, Refused),
        case("a small device read still works", r#"(await Deno.readFile("/dev/null")).length"#, Value(json!(0))),
        case("a regular file still reads", r#"Deno.writeTextFileSync(WORKSPACE_DIR + "/a.txt", "hi"); Deno.readTextFileSync(WORKSPACE_DIR + "/a.txt")"#, Value(json!("hi"))),
    ];
    run_all(&s, &cases).await;
}

/// Values at the heap cap through every op family that builds engine values from Rust (or Rust
/// values from engine ones): the allocation that fails ends the execution with the memory
/// result, never a panic in a callback that cannot unwind (a process abort).
#[tokio::test]
async fn values_at_the_heap_cap_through_every_op_family() {
    use Expect::*;
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_MEMORY_MB", "64")]).await;
    let keep = |body: &str| format!("const keep = []; for (;;) keep.push({body});");
    let cases = [
        timed("console.log of a 100 MB string", "console.log('z'.repeat(1e8))", 30000, Error("memory")),
        timed(
            "console.log near the cap",
            "const keep = []; for (let i = 0; ; i++) { keep.push('z'.repeat(1 << 20) + i); if (i % 8 === 0) console.log(keep[i]); }",
            30000,
            Error("memory"),
        ),
        timed("Deno.inspect of a huge array", "Deno.inspect(Array.from({ length: 3e6 }, (_, i) => ({ i })), { maxArrayLength: Infinity })", 30000, Error("memory")),
        timed("JSON.stringify kept", &keep("JSON.stringify(Array.from({ length: 1e5 }, () => 'abcdefgh'))"), 30000, Error("memory")),
        timed("JSON.parse of a huge text", "JSON.parse('[' + '1,'.repeat(4e7) + '1]')", 30000, Error("memory")),
        timed("TextDecoder output kept", &format!("const bytes = new Uint8Array(8 << 20).fill(65); {}", keep("new TextDecoder().decode(bytes)")), 30000, Error("memory")),
        timed("TextEncoder output kept", &format!("const text = 'é'.repeat(4e6); {}", keep("new TextEncoder().encode(text)")), 30000, Error("memory")),
        timed("structuredClone kept", &format!("const a = new Uint8Array(8 << 20); {}", keep("structuredClone(a)")), 30000, Error("memory")),
        timed("Response body text kept", &format!("const a = new Uint8Array(8 << 20).fill(65); {}", keep("await new Response(a).text()")), 30000, Error("memory")),
        timed("Blob text kept", &format!("const b = new Blob([new Uint8Array(8 << 20).fill(65)]); {}", keep("await b.text()")), 30000, Error("memory")),
        timed(
            "WebCrypto output kept",
            &format!(
                "const key = await crypto.subtle.generateKey({{ name: 'AES-GCM', length: 256 }}, false, ['encrypt']); \
                 const data = new Uint8Array(8 << 20); {}",
                keep("await crypto.subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, key, data)")
            ),
            30000,
            Error("memory"),
        ),
        timed("node Buffer base64 kept", &format!("const {{ Buffer }} = await import('node:buffer'); const b = Buffer.alloc(8 << 20, 1); {}", keep("b.toString('base64')")), 30000, Error("memory")),
        timed("node randomBytes past the cap", "const { randomBytes } = await import('node:crypto'); randomBytes(2 ** 30).length", 30000, Error("memory")),
        timed("errors with long messages kept", &keep("new Error('x'.repeat(1e6))"), 30000, Error("memory")),
        timed("a huge error thrown", "throw new Error('m'.repeat(6e7))", 30000, Error("memory")),
    ];
    run_all(&s, &cases).await;
}

/// Native key, prime and Diffie-Hellman work cannot be stopped at the deadline: sizes past the
/// bounds of `src/sandbox/cost_bounds.rs` are refused before the work starts (a RangeError
/// naming the bound), by every route: Node's sync and async forms and WebCrypto. Sizes under
/// them still work.
#[tokio::test]
async fn native_crypto_sizes_past_their_bounds_are_refused_at_once() {
    use Expect::*;
    let s = Server::start("").await;
    let node = |body: &str| format!("const c = await import('node:crypto'); {body}");
    let bound = "mcp-conductor sandbox bound";
    let cases = [
        case("RSA 16384 sync", &node("c.generateKeyPairSync('rsa', { modulusLength: 16384 })"), ErrorContaining(bound)),
        case(
            "RSA 16384 async",
            &node("await new Promise((res, rej) => c.generateKeyPair('rsa', { modulusLength: 16384 }, (e, k) => e ? rej(e) : res(k)))"),
            ErrorContaining(bound),
        ),
        case("RSA-PSS 16384", &node("c.generateKeyPairSync('rsa-pss', { modulusLength: 16384 })"), ErrorContaining(bound)),
        case("DSA 8192", &node("c.generateKeyPairSync('dsa', { modulusLength: 8192 })"), ErrorContaining(bound)),
        case("DH primeLength 8192", &node("c.generateKeyPairSync('dh', { primeLength: 8192 })"), ErrorContaining(bound)),
        case("createDiffieHellman(8192)", &node("c.createDiffieHellman(8192)"), ErrorContaining(bound)),
        case("generatePrimeSync(8192)", &node("c.generatePrimeSync(8192)"), ErrorContaining(bound)),
        case("generatePrime(4096) async", &node("await new Promise((res, rej) => c.generatePrime(4096, (e, p) => e ? rej(e) : res(p)))"), ErrorContaining(bound)),
        case("a 1024-bit safe prime", &node("c.generatePrimeSync(1024, { safe: true })"), ErrorContaining(bound)),
        case("checkPrime of 64 KiB", &node("c.checkPrimeSync(new Uint8Array(65536).fill(255))"), ErrorContaining(bound)),
        case("checkPrime with 2^30 rounds", &node("c.checkPrimeSync(7n, { checks: 2 ** 30 })"), ErrorContaining(bound)),
        case(
            "computeSecret with a 1 MB private key",
            &node("const dh = c.createDiffieHellman(512); dh.generateKeys(); dh.setPrivateKey(new Uint8Array(1 << 20).fill(255)); dh.computeSecret(dh.getPublicKey())"),
            ErrorContaining(bound),
        ),
        case(
            "WebCrypto RSA 16384",
            "await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 16384, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, false, ['sign'])",
            ErrorContaining(bound),
        ),
        case(
            "WebCrypto PBKDF2 2^31 iterations",
            "const k = await crypto.subtle.importKey('raw', new Uint8Array(8), 'PBKDF2', false, ['deriveBits']); \
             await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(8), iterations: 2 ** 31 - 1 }, k, 256)",
            ErrorContaining(bound),
        ),
        // Under the bounds, the same calls work.
        case("RSA 2048", &node("c.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.asymmetricKeyDetails.modulusLength"), Value(json!(2048))),
        case("a 256-bit prime", &node("c.generatePrimeSync(256, { bigint: true }) > 2n ** 254n"), Value(json!(true))),
        case("checkPrime of a known prime", &node("c.checkPrimeSync(2n ** 127n - 1n)"), Value(json!(true))),
        case(
            "Diffie-Hellman 512 agrees",
            &node(
                "const a = c.createDiffieHellman(512); const b = c.createDiffieHellman(a.getPrime(), a.getGenerator()); \
                 a.generateKeys(); b.generateKeys(); a.computeSecret(b.getPublicKey()).equals(b.computeSecret(a.getPublicKey()))",
            ),
            Value(json!(true)),
        ),
        timed(
            "WebCrypto RSA 2048",
            "(await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, false, ['sign'])).publicKey.algorithm.modulusLength",
            10000,
            Value(json!(2048)),
        ),
    ];
    run_all(&s, &cases).await;
}
