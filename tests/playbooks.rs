//! Playbooks through the real binary: create -> list -> get -> importPlaybook, names that must
//! be refused everywhere, permissions, broken folders, and the defaults shipped in the binary.

mod common;

use common::Server;
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

fn text(r: &CallToolResult) -> &str {
    &r.content[0].as_text().unwrap().text
}

async fn create(s: &Server, args: Value) -> CallToolResult {
    s.call("create_playbook", args).await.expect("create_playbook answers")
}

const CODE: &str = r#"
import { double } from "./util.ts";
export interface Point { x: number; y: number }
export function norm(p: Point): number {
  return Math.hypot(p.x, p.y);
}
export const twice = (n: number): number => double(n);
"#;

#[tokio::test]
async fn create_list_get_import_and_call() {
    let s = Server::start("").await;
    let r = create(
        &s,
        json!({
            "folder_name": "geo",
            "name": "Geometry",
            "description": "a: b\nsource: system",
            "content": "# Geometry\nUse `norm`.",
            "code": CODE,
            "tags": ["math", "x: y"],
            "version": "1.2",
        }),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert!(text(&r).contains("const pb = await importPlaybook(\"geo\");"), "{}", text(&r));
    // A sibling module the playbook imports relatively.
    let folder = s.dir.path().join("playbooks/geo");
    std::fs::write(folder.join("util.ts"), "export const double = (n: number) => n * 2;").unwrap();

    let listed = s.call("list_playbooks", json!({})).await.unwrap();
    let playbooks = &listed.structured_content.as_ref().unwrap()["playbooks"];
    let geo = playbooks.as_array().unwrap().iter().find(|p| p["folder"] == "geo").unwrap();
    assert_eq!(geo["description"], json!("a: b\nsource: system"), "the description round-trips exactly");
    assert_eq!(geo["tags"], json!(["math", "x: y"]));
    assert_eq!(geo["has_code"], json!(true));
    assert_eq!(geo["source"], json!("user"));

    let got = s.call("get_playbook", json!({ "folder_name": "geo" })).await.unwrap();
    let got = got.structured_content.unwrap();
    assert_eq!(got["metadata"]["description"], json!("a: b\nsource: system"));
    assert_eq!(got["metadata"]["version"], json!("1.2"));
    assert_eq!(got["content"], json!("# Geometry\nUse `norm`."));
    assert_eq!(got["code"], json!(CODE));
    assert_eq!(got["import"], json!("const pb = await importPlaybook(\"geo\");"));

    // Zero permissions, and still importable: the server reads the playbook for the code.
    let r = s.run(r#"const geo = await importPlaybook("geo"); [geo.norm({ x: 3, y: 4 }), geo.twice(21)]"#).await;
    assert_eq!(r.value(), &json!([5, 42]));
}

#[tokio::test]
async fn overwrite_is_refused_then_allowed() {
    let s = Server::start("").await;
    let args = |code: &str, overwrite: bool| {
        json!({ "folder_name": "p", "name": "P", "description": "d", "content": "", "code": code, "overwrite": overwrite })
    };
    assert_ne!(create(&s, args("export const v = 1;", false)).await.is_error, Some(true));
    let refused = create(&s, args("export const v = 2;", false)).await;
    assert_eq!(refused.is_error, Some(true));
    assert!(text(&refused).contains("already exists; pass overwrite: true"), "{}", text(&refused));
    assert_eq!(s.run(r#"(await importPlaybook("p")).v"#).await.value(), &json!(1));
    assert_ne!(create(&s, args("export const v = 2;", true)).await.is_error, Some(true));
    assert_eq!(s.run(r#"(await importPlaybook("p")).v"#).await.value(), &json!(2));

    let bad = create(&s, args("export const = ;", true)).await;
    assert_eq!(bad.is_error, Some(true));
    assert!(text(&bad).contains("the code does not parse"), "{}", text(&bad));
    assert_eq!(s.run(r#"(await importPlaybook("p")).v"#).await.value(), &json!(2), "a failed create changes nothing");
}

#[tokio::test]
async fn bad_names_are_refused_everywhere() {
    let s = Server::start("allow-read").await;
    let long = "x".repeat(65);
    for name in ["../x", "a/b", "", long.as_str(), "..", "a b"] {
        let r = create(&s, json!({ "folder_name": name, "name": "n", "description": "d", "content": "" })).await;
        assert_eq!(r.is_error, Some(true), "create {name:?}");
        assert!(text(&r).contains("invalid playbook folder name"), "{}", text(&r));
        let r = s.call("get_playbook", json!({ "folder_name": name })).await.unwrap();
        assert_eq!(r.is_error, Some(true), "get {name:?}");
        assert!(text(&r).contains("invalid playbook folder name"), "{}", text(&r));
        let r = s.run_args(json!({ "deno_code": "await importPlaybook(name)", "globals": { "name": name } })).await;
        assert!(r.error().contains("invalid playbook folder name"), "import {name:?}: {r:?}");
    }
    // Direct playbook:// imports stay inside the folder too.
    std::fs::create_dir_all(s.dir.path().join("playbooks/p")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", s.dir.path().join("playbooks/p/passwd.ts")).unwrap();
    let r = s.run(r#"await import("playbook://p/passwd.ts")"#).await;
    assert!(r.error().contains("resolves outside playbook 'p'"), "{r:?}");
    let r = s.run(r#"await import("playbook://p/../../../etc/passwd.ts")"#).await;
    assert!(r.error().contains("no such file in playbook 'p'"), "{r:?}");
    assert!(std::fs::read_dir(s.dir.path()).unwrap().all(|e| e.unwrap().file_name() != "x"));
}

#[tokio::test]
async fn playbook_code_runs_with_the_executions_permissions() {
    let s = Server::start("").await;
    let code = r#"export const passwd = () => Deno.readTextFile("/etc/passwd");
export async function viaOther() { return (await importPlaybook("helper")).answer; }"#;
    create(&s, json!({ "folder_name": "reader", "name": "R", "description": "d", "content": "", "code": code })).await;
    create(&s, json!({ "folder_name": "helper", "name": "H", "description": "d", "content": "", "code": "export const answer = 42;" })).await;
    let r = s.run(r#"await (await importPlaybook("reader")).passwd()"#).await;
    assert_eq!(r.error_type(), "permission", "{r:?}");
    let r = s.run(r#"await (await importPlaybook("reader")).viaOther()"#).await;
    assert_eq!(r.value(), &json!(42), "a playbook can import another");
    let r = s.run(r#"await importPlaybook("missing")"#).await;
    assert!(r.error().contains("no playbook 'missing'"), "{r:?}");

    // Errors name the playbook and the line.
    let thrower = "export const ok = 1;\n\nthrow new Error(\"broken on purpose\");\n";
    create(&s, json!({ "folder_name": "thrower", "name": "T", "description": "d", "content": "", "code": thrower })).await;
    let r = s.run(r#"await importPlaybook("thrower")"#).await;
    assert!(r.error().contains("broken on purpose"), "{r:?}");
    assert!(r.error().contains("playbook://thrower/playbook.ts:3"), "{r:?}");
}

#[tokio::test]
async fn broken_playbooks_are_listed_with_the_reason() {
    let s = Server::start("").await;
    let dir = s.dir.path().join("playbooks/broken");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("playbook.md"), "---\nname: x\n").unwrap();
    let listed = s.call("list_playbooks", json!({})).await.unwrap();
    assert!(text(&listed).contains("broken: BROKEN - broken/playbook.md: the frontmatter has no closing `---` line"), "{}", text(&listed));
    let structured = listed.structured_content.unwrap();
    let broken = structured["playbooks"].as_array().unwrap().iter().find(|p| p["folder"] == "broken").unwrap().clone();
    assert_eq!(broken["broken"], json!(true));
}

#[tokio::test]
async fn defaults_are_installed_and_user_edits_survive_a_restart() {
    let s = Server::start("").await;
    let listed = s.call("list_playbooks", json!({})).await.unwrap().structured_content.unwrap();
    let folders: Vec<&str> = listed["playbooks"].as_array().unwrap().iter().map(|p| p["folder"].as_str().unwrap()).collect();
    assert_eq!(folders, ["http-helper", "http-utilities", "mcp-conductor-guide", "playbook-creator"]);
    let r = s.run(r#"const h = await importPlaybook("http-helper"); [typeof h.fetchWithRetry, typeof h.getJson, typeof h.postJson]"#).await;
    assert_eq!(r.value(), &json!(["function", "function", "function"]));
    // Without allow-net the helper reports the permission error (not retried).
    let r = s.run(r#"await (await importPlaybook("http-helper")).getJson("http://127.0.0.1:65500/")"#).await;
    assert_eq!(r.error_type(), "permission", "{r:?}");

    let md = s.dir.path().join("playbooks/http-helper/playbook.md");
    let edited = "---\nname: Mine\ndescription: edited by the user\n---\nmine\n";
    std::fs::write(&md, edited).unwrap();
    let (home, workspace) = (s.dir.path().to_path_buf(), s.ws().to_path_buf());
    drop(s.client.cancel().await);
    let again = Server::start_env("", &[("HOME", home.to_str().unwrap()), ("MCP_CONDUCTOR_WORKSPACE", workspace.to_str().unwrap())]).await;
    assert_eq!(std::fs::read_to_string(&md).unwrap(), edited);
    let got = again.call("get_playbook", json!({ "folder_name": "http-helper" })).await.unwrap();
    assert_eq!(got.structured_content.unwrap()["metadata"]["name"], json!("Mine"));
    drop(s.dir);
}

#[tokio::test]
async fn http_helper_retries_and_parses_json() {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let port = common::http_server(move |path| match path {
        // Fails once with 503, then answers.
        "/flaky" if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 => {
            ("503 Service Unavailable", "text/plain", "busy".into())
        }
        "/flaky" => ("200 OK", "application/json", r#"{"ok":true}"#.into()),
        _ => ("404 Not Found", "text/plain", "nothing here".into()),
    });
    let s = Server::start("allow-net=127.0.0.1").await;
    let code = format!(
        r#"const http = await importPlaybook("http-helper");
        let missing;
        try {{ await http.getJson("http://127.0.0.1:{port}/missing"); }} catch (e) {{ missing = [e.name, e.status]; }}
        [await http.getJson("http://127.0.0.1:{port}/flaky", {{ backoffMs: 10 }}), missing]"#
    );
    // Finishing within the timeout also shows the per-attempt timeout timers do not keep the
    // execution alive after the answer.
    let r = s.run_timeout(&code, 5000).await;
    assert_eq!(r.value(), &json!([{ "ok": true }, ["HttpError", 404]]));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
}
