//! Module imports: data: URLs, files (read permission), remote URLs (allow-import), refused kinds.
mod common;

use common::Server;
use serde_json::json;

/// Serves a TypeScript module at /mod.ts.
fn serve_modules() -> u16 {
    common::http_server(|path| match path {
        "/mod.ts" => ("200 OK", "application/typescript", "export const twice = (n: number): number => n * 2;\n".into()),
        _ => ("404 Not Found", "text/plain", String::new()),
    })
}

#[tokio::test]
async fn data_urls_static_and_dynamic() {
    let s = Server::start("").await;
    let r = s
        .run("import { x } from 'data:application/typescript,export const x: number = 40;'\nconst m = await import('data:text/javascript,export default 2')\nx + m.default")
        .await;
    assert_eq!(r.value(), &json!(42));
}

#[tokio::test]
async fn remote_imports_follow_allow_import() {
    let port = serve_modules();
    let url = format!("http://127.0.0.1:{port}/mod.ts");
    let code = format!("import {{ twice }} from '{url}'\ntwice(21)");

    let allowed = Server::start(&format!("allow-import=127.0.0.1:{port}")).await;
    assert_eq!(allowed.run(&code).await.value(), &json!(42));
    let missing = allowed.run(&format!("await import('http://127.0.0.1:{port}/nope.ts')")).await;
    assert_eq!(missing.error_type(), "runtime");
    assert!(missing.error().contains("404"), "{}", missing.error());

    let denied = Server::start("").await;
    assert_eq!(denied.run(&code).await.error_type(), "permission");

    let no_remote = Server::start(&format!("allow-import=127.0.0.1:{port},no-remote")).await;
    let r = no_remote.run(&code).await;
    assert_eq!(r.error_type(), "permission");
    assert!(r.error().contains("no-remote"), "{}", r.error());
}

#[tokio::test]
async fn file_imports_need_read_permission() {
    let s = Server::start("allow-read={ws}").await;
    std::fs::write(s.ws().join("helper.ts"), "export const greet = (n: string): string => `hi ${n}`;\n").unwrap();
    std::fs::write(s.ws().join("data.json"), r#"{"k": [1, 2]}"#).unwrap();
    let r = s
        .run("import { greet } from './helper.ts'\nimport data from './data.json' with { type: 'json' }\n[greet('ada'), data.k]")
        .await;
    assert_eq!(r.value(), &json!(["hi ada", [1, 2]]));

    let none = Server::start("").await;
    std::fs::write(none.ws().join("helper.ts"), "export const x = 1;\n").unwrap();
    assert_eq!(none.run("import { x } from './helper.ts'\nx").await.error_type(), "permission");
}
