//! The egress policy (`MCP_CONDUCTOR_EGRESS`, docs/egress.md) against real HTTPS servers with a
//! private CA (`MCP_CONDUCTOR_TLS_CA_FILE`) that echo what they received: the credential arrives
//! and code cannot find it anywhere; methods, paths and hosts outside the rules are refused with
//! the rule named; a redirect to another host arrives without it; a changed file applies to the
//! next execution.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use common::Server;
use serde_json::Value;

const SECRET: &str = "s3cret-egress-token-7f1c";

/// HTTPS echo servers on 127.0.0.1 (`tests/fixtures/https_echo.py`).
struct EchoServers {
    child: Child,
    ports: Vec<u16>,
    dir: tempfile::TempDir,
}

impl Drop for EchoServers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl EchoServers {
    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// `tests/fixtures/https_echo.py`: a private CA in `dir`, `count` servers.
    fn start(count: usize) -> EchoServers {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/https_echo.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .arg(count.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let ports: Vec<u16> = line.split_whitespace().map(|p| p.parse().expect("port")).collect();
        assert_eq!(ports.len(), count, "https_echo.py started");
        EchoServers { child, ports, dir }
    }
}

/// A policy: the first server with a credential, GET/POST under /repos/ only; the second
/// server with no credential (a redirect target).
fn policy(ports: &[u16], paths: &str) -> String {
    format!(
        "rules:\n  - name: api\n    host: 127.0.0.1\n    port: {}\n    methods: [GET, POST]\n    paths: [{paths}]\n    headers:\n      Authorization: Bearer ${{EGRESS_TEST_TOKEN}}\n  - name: elsewhere\n    host: 127.0.0.1\n    port: {}\n",
        ports[0], ports[1]
    )
}

/// `count` echo servers, the [`policy`] for them (paths `/repos/`) in a file, and a server
/// with `run_args` under it.
async fn start(count: usize, run_args: &str) -> (EchoServers, PathBuf, Server) {
    let servers = EchoServers::start(count);
    let policy_file = servers.dir.path().join("egress.yaml");
    std::fs::write(&policy_file, policy(&servers.ports, "/repos/")).unwrap();
    let ca = servers.ca().display().to_string();
    let file = policy_file.display().to_string();
    let server = Server::start_env(
        run_args,
        &[("MCP_CONDUCTOR_EGRESS", &file), ("MCP_CONDUCTOR_TLS_CA_FILE", &ca), ("EGRESS_TEST_TOKEN", SECRET)],
    )
    .await;
    (servers, policy_file, server)
}

fn echo(run: &common::Run) -> Value {
    let text = run.value().as_str().unwrap_or_else(|| panic!("a JSON text: {run:?}"));
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn credentials_reach_the_host_and_never_the_code() {
    let (servers, policy_file, s) = start(3, "allow-net,allow-env,allow-read").await;
    let (api, other, outside) = (servers.ports[0], servers.ports[1], servers.ports[2]);

    // The credential arrives, over the code's own header of that name.
    let r = s
        .run(&format!(
            "await (await fetch('https://127.0.0.1:{api}/repos/a?x=1', {{ headers: {{ authorization: 'mine' }} }})).text()"
        ))
        .await;
    let seen = echo(&r);
    assert_eq!(seen["headers"]["authorization"], format!("Bearer {SECRET}"), "{seen}");
    assert_eq!(seen["path"], "/repos/a?x=1");

    // Nowhere code can look: environment (allow-env), /proc (allow-read), the Request and
    // Response objects, the policy file itself.
    let hunt = format!(
        "const found = [];
         const look = (where, text) => {{ if (String(text).includes('{SECRET}')) found.push(where) }};
         look('env', JSON.stringify(Deno.env.toObject()));
         look('env.get', Deno.env.get('EGRESS_TEST_TOKEN'));
         look('process.env', JSON.stringify(process.env));
         for (const f of ['/proc/self/environ', '/proc/' + Deno.pid + '/environ', '/proc/1/environ', '{policy}']) {{
           try {{ look(f, Deno.readTextFileSync(f)) }} catch {{}}
         }}
         const req = new Request('https://127.0.0.1:{api}/repos/b');
         const res = await fetch(req);
         look('request', JSON.stringify([...req.headers]));
         look('response headers', JSON.stringify([...res.headers]));
         await res.text();
         found",
        policy = policy_file.display()
    );
    let r = s.run(&hunt).await;
    assert_eq!(r.value(), &serde_json::json!([]), "{r:?}");

    // A method or a path outside the rule: refused, the rule named, the secret nowhere.
    let r = s.run(&format!("await fetch('https://127.0.0.1:{api}/repos/a', {{ method: 'DELETE' }})")).await;
    assert_eq!(r.status(), "error");
    assert!(r.error().contains("'api'") && r.error().contains("GET, POST only"), "{r:?}");
    assert!(!r.error().contains(SECRET));
    let r = s.run(&format!("await fetch('https://127.0.0.1:{api}/admin')")).await;
    assert!(r.error().contains("paths under /repos/ only"), "{r:?}");
    assert!(r.error().contains("NotCapable") && r.error().contains("MCP_CONDUCTOR_EGRESS"), "{r:?}");
    assert_eq!(r.error_type(), "permission");

    // A path disguised with encoded separators is refused (a server that decodes %2F before
    // resolving `..` would serve /admin).
    let r = s.run(&format!("await fetch('https://127.0.0.1:{api}/repos/..%2fadmin')")).await;
    assert!(r.error().contains("encoded"), "{r:?}");

    // Never through a client the code made (its proxy, CAs or Host could expose the credential);
    // such a client still reaches rules without credentials.
    let r = s
        .run(&format!(
            "const client = Deno.createHttpClient({{}});
             await fetch('https://127.0.0.1:{api}/repos/a', {{ client }})"
        ))
        .await;
    assert!(r.error().contains("never sent through a client the code configured") && r.error().contains("'api'"), "{r:?}");
    // A Host of the code's choosing (allowHost) is refused under a policy, whatever the rule.
    let r = s
        .run(&format!(
            "const client = Deno.createHttpClient({{ allowHost: true }});
             await fetch('https://127.0.0.1:{other}/x', {{ client, headers: {{ host: 'evil.example' }} }})"
        ))
        .await;
    assert!(r.error().contains("a Host header chosen by the code is not sent"), "{r:?}");
    let r = s
        .run(&format!(
            "const client = Deno.createHttpClient({{}});
             await (await fetch('https://127.0.0.1:{other}/x', {{ client }})).text()"
        ))
        .await;
    assert_eq!(echo(&r)["path"], "/x");

    // A redirect to another host is followed without the credential.
    let target = format!("https://127.0.0.1:{other}/landed");
    let r = s.run(&format!("await (await fetch('https://127.0.0.1:{api}/repos/redirect?to={target}')).text()")).await;
    let landed = echo(&r);
    assert_eq!(landed["path"], "/landed", "{landed}");
    assert!(landed["headers"].get("authorization").is_none(), "the credential stays with its host: {landed}");
    let r = s.run(&format!("await (await fetch('https://127.0.0.1:{other}/redirect?to=https://127.0.0.1:{api}/repos/c')).text()")).await;
    assert_eq!(echo(&r)["headers"]["authorization"], format!("Bearer {SECRET}"), "a hop into the rule gets it: {r:?}");
    let r = s.run(&format!("await (await fetch('https://127.0.0.1:{other}/x', {{ headers: {{ authorization: 'mine' }} }})).text()")).await;
    assert_eq!(echo(&r)["headers"]["authorization"], "mine", "another host: the code's own header, untouched");

    // A WebSocket handshake passes the same rules and gets the same credential.
    let ws = |path: &str| {
        format!(
            "const ws = new WebSocket('wss://127.0.0.1:{api}{path}');
             await new Promise((ok) => {{ ws.onmessage = (e) => {{ ok(e.data); ws.close() }}; ws.onerror = (e) => ok('error: ' + e.message) }})"
        )
    };
    let r = s.run(&ws("/repos/socket")).await;
    let seen = echo(&r);
    assert_eq!(seen["headers"]["authorization"], format!("Bearer {SECRET}"), "{seen}");
    let r = s
        .run(&format!(
            "const ws = new WebSocket('wss://127.0.0.1:{api}/repos/x', {{ client: Deno.createHttpClient({{}}) }});
             await new Promise((ok) => {{ ws.onmessage = (e) => ok(e.data); ws.onerror = (e) => ok('error: ' + e.message) }})"
        ))
        .await;
    let text = r.value().as_str().unwrap_or_default().to_string();
    assert!(text.starts_with("error: ") && text.contains("'api'") && text.contains("client the code configured"), "{r:?}");
    let r = s.run(&ws("/admin")).await;
    let text = r.value().as_str().unwrap_or_default().to_string();
    assert!(text.starts_with("error: ") && text.contains("'api'") && text.contains("/repos/"), "{r:?}");
    let r = s
        .run(&format!(
            "const ws = new WebSocket('wss://127.0.0.1:{api}/repos/x', {{ headers: {{ authorization: 'mine' }} }});
             await new Promise((ok) => {{ ws.onmessage = (e) => {{ ok(e.data); ws.close() }}; ws.onerror = (e) => ok('error: ' + e.message) }})"
        ))
        .await;
    assert_eq!(echo(&r)["headers"]["authorization"], format!("Bearer {SECRET}"), "over the code's own header: {r:?}");
    let r = s
        .run(&format!(
            "const ws = new WebSocket('wss://127.0.0.1:{other}/x', {{ headers: {{ authorization: 'mine' }} }});
             await new Promise((ok) => {{ ws.onmessage = (e) => {{ ok(e.data); ws.close() }}; ws.onerror = (e) => ok('error: ' + e.message) }})"
        ))
        .await;
    assert_eq!(echo(&r)["headers"]["authorization"], "mine", "code's headers do reach the handshake: {r:?}");

    // The rules, never the values, are in EGRESS.
    let r = s.run("EGRESS").await;
    let rules = r.value().to_string();
    assert!(rules.contains("api: https://127.0.0.1:") && rules.contains("adds authorization itself"), "{rules}");
    assert!(!rules.contains(SECRET));

    // A host outside the policy is unreachable by every route, though RUN_ARGS allow all net.
    for code in [
        format!("await fetch('https://127.0.0.1:{outside}/')"),
        format!("await Deno.connect({{ hostname: '127.0.0.1', port: {outside} }})"),
        format!(
            "const net = await import('node:net');
             await new Promise((ok, fail) => {{ const c = net.connect({outside}, '127.0.0.1', ok); c.on('error', fail) }})"
        ),
    ] {
        let r = s.run(&code).await;
        assert_eq!(r.status(), "error", "{code}: {r:?}");
        assert!(r.error().contains("NotCapable") || r.error().contains("net access"), "{code}: {r:?}");
    }
    s.assert_healthy().await;
}

/// A socket (every route that writes its own bytes: Deno.connect(Tls), node:net, node:tls,
/// node:http(s), a proxy) reaches only hosts whose rules check no method, path or credential:
/// on it the code could send any request, and no credential could be added. Imports are held to
/// the rule's methods and paths as a fetch is.
#[tokio::test]
async fn sockets_and_imports_cannot_step_around_a_rule() {
    let (servers, _policy_file, s) = start(2, "allow-net,allow-import").await;
    let (api, other) = (servers.ports[0], servers.ports[1]);
    let node_get = |module: &str, port: u16| {
        format!(
            "const m = await import('node:{module}');
             await new Promise((ok, fail) => {{
               const req = m.get('{module}://127.0.0.1:{port}/repos/a', (res) => {{ res.resume(); ok(res.statusCode) }});
               req.on('error', fail);
             }})"
        )
    };
    let refused = [
        format!("await Deno.connect({{ hostname: '127.0.0.1', port: {api} }})"),
        format!("await Deno.connectTls({{ hostname: '127.0.0.1', port: {api} }})"),
        format!(
            "const net = await import('node:net');
             await new Promise((ok, fail) => {{ const c = net.connect({api}, '127.0.0.1', ok); c.on('error', fail) }})"
        ),
        format!(
            "const tls = await import('node:tls');
             await new Promise((ok, fail) => {{ const c = tls.connect({api}, '127.0.0.1', ok); c.on('error', fail) }})"
        ),
        node_get("https", api),
        node_get("http", api),
        format!("Deno.createHttpClient({{ proxy: {{ url: 'http://127.0.0.1:{api}' }} }})"),
    ];
    for code in &refused {
        let r = s.run(code).await;
        assert_eq!(r.status(), "error", "{code}: {r:?}");
        let error = r.error();
        assert!(
            error.contains("refused by the egress policy") && error.contains("'api'") && error.contains("use fetch()"),
            "{code}: {r:?}"
        );
        assert_eq!(r.error_type(), "permission", "{code}: {r:?}");
    }
    // A host whose rule checks nothing: sockets as before.
    let r = s
        .run(&format!(
            "const c = await Deno.connect({{ hostname: '127.0.0.1', port: {other} }}); c.close(); 'connected'"
        ))
        .await;
    assert_eq!(r.value(), &serde_json::json!("connected"), "{r:?}");
    let r = s
        .run(&format!(
            "const net = await import('node:net');
             await new Promise((ok, fail) => {{ const c = net.connect({other}, '127.0.0.1', () => {{ c.destroy(); ok('connected') }}); c.on('error', fail) }})"
        ))
        .await;
    assert_eq!(r.value(), &serde_json::json!("connected"), "{r:?}");
    // An import outside the rule's paths is refused before anything is sent.
    let r = s.run(&format!("await import('https://127.0.0.1:{api}/admin/x.js')")).await;
    assert_eq!(r.status(), "error");
    assert!(r.error().contains("'api'") && r.error().contains("paths under /repos/ only"), "{r:?}");
    s.assert_healthy().await;
}

/// Remote imports are checked against allow-import, not allow-net: `allow-all` grants both, and
/// the policy narrows both.
#[tokio::test]
async fn imports_are_held_to_the_policy_hosts_too() {
    let (servers, _policy_file, s) = start(3, "allow-all").await;
    let outside = servers.ports[2];
    let r = s.run(&format!("await import('https://127.0.0.1:{outside}/x.js?d=' + 'data')")).await;
    assert_eq!(r.status(), "error");
    assert!(r.error().contains("import access"), "{r:?}");
    let r = s.run("PERMISSIONS").await;
    let flags = r.value().to_string();
    assert!(flags.contains("--allow-net=127.0.0.1:") && !flags.contains("--allow-all"), "narrowed flags shown: {flags}");
    s.assert_healthy().await;
}

#[tokio::test]
async fn a_changed_policy_applies_to_the_next_execution() {
    let (servers, policy_file, s) = start(2, "allow-net").await;
    let api = servers.ports[0];
    let fetch_user = format!("(await fetch('https://127.0.0.1:{api}/user')).status");
    assert!(s.run(&fetch_user).await.error().contains("paths under /repos/ only"));

    std::fs::write(&policy_file, policy(&servers.ports, "/repos/, /user")).unwrap();
    // A changed file is read once it has been left alone for a second (never half-written).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(s.run(&fetch_user).await.value(), &serde_json::json!(200), "the new path is allowed");

    // A broken edit keeps the last good policy: still the credential, still the path rules.
    std::fs::write(&policy_file, "rules: [ {host: ").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for _ in 0..3 {
        let r = s.run(&format!("await (await fetch('https://127.0.0.1:{api}/user')).text()")).await;
        assert_eq!(echo(&r)["headers"]["authorization"], format!("Bearer {SECRET}"), "{r:?}");
        let r = s.run(&format!("await fetch('https://127.0.0.1:{api}/admin')")).await;
        assert!(r.error().contains("'api'"), "{r:?}");
    }
    s.assert_healthy().await;
}

#[test]
fn a_bad_policy_stops_the_server_with_the_rule_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("egress.yaml");
    std::fs::write(&file, "rules:\n  - host: api.example.com\n    method: [GET]\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-conductor"))
        .arg("doctor")
        .env("MCP_CONDUCTOR_EGRESS", &file)
        .env("MCP_CONDUCTOR_WORKSPACE", dir.path().join("ws"))
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("unknown field `method`") && text.contains("MCP_CONDUCTOR_EGRESS"), "{text}");
}
