//! Module imports: data: URLs, files (read permission), remote URLs (allow-import), refused kinds.
mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use common::Server;
use serde_json::json;

/// A one-purpose HTTP server on 127.0.0.1 serving a TypeScript module and a redirect.
fn serve_modules() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let response = match path.as_str() {
                "/mod.ts" => {
                    let body = "export const twice = (n: number): number => n * 2;\n";
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/typescript\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                }
                _ => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string(),
            };
            let mut stream = stream;
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
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
