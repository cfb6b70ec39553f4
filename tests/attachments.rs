//! `mcp.image()`, `mcp.audio()` and `mcp.file()`: content items after the JSON text item, listed
//! under `attachments`, capped by `MCP_CONDUCTOR_MAX_CONTENT_BYTES`.

mod common;

use base64::Engine;
use common::Server;
use rmcp::model::{ContentBlock, ResourceContents};
use serde_json::json;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A valid 1x1 PNG made by the code itself (zlib from node:zlib, CRC-32 by hand).
const MAKE_PNG: &str = r#"
import { deflateSync } from "node:zlib";
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (bytes) => {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
};
const ihdr = new Uint8Array(13);
new DataView(ihdr.buffer).setUint32(0, 1);
new DataView(ihdr.buffer).setUint32(4, 1);
ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
const pixel = new Uint8Array([0, 255, 0, 0, 255]); // filter 0, one red pixel
const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(pixel)), chunk("IEND", new Uint8Array())];
const png = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
let at = 0;
for (const p of parts) { png.set(p, at); at += p.length; }
"#;

#[tokio::test]
async fn an_image_made_in_code_reaches_the_client() {
    let s = Server::start("").await;
    let code = format!("{MAKE_PNG}\nmcp.image(png, 'image/png');\nBuffer.from(png).toString('base64')");
    let r = s.call("run_deno_code", json!({ "deno_code": code })).await.unwrap();
    assert_ne!(r.is_error, Some(true), "{r:?}");
    let text: serde_json::Value = serde_json::from_str(&r.content[0].as_text().unwrap().text).unwrap();
    let expected = B64.decode(text["returnValue"].as_str().unwrap()).unwrap();
    assert_eq!(&expected[..8], b"\x89PNG\r\n\x1a\n");
    let ContentBlock::Image(image) = &r.content[1] else { panic!("an image item: {:?}", r.content) };
    assert_eq!(image.mime_type, "image/png");
    assert_eq!(B64.decode(&image.data).unwrap(), expected);
    assert_eq!(text["attachments"], json!([{ "type": "image", "mimeType": "image/png", "bytes": expected.len() }]));
    // Base64 and ArrayBuffer input, audio too.
    let r = s
        .call("run_deno_code", json!({ "deno_code": "mcp.audio('AAEC', 'audio/wav'); mcp.image(new Uint8Array([1, 2]).buffer, 'image/gif'); 1" }))
        .await
        .unwrap();
    let ContentBlock::Audio(audio) = &r.content[1] else { panic!("{:?}", r.content) };
    assert_eq!(B64.decode(&audio.data).unwrap(), [0, 1, 2]);
    let ContentBlock::Image(gif) = &r.content[2] else { panic!("{:?}", r.content) };
    assert_eq!(B64.decode(&gif.data).unwrap(), [1, 2]);
}

#[tokio::test]
async fn a_workspace_file_is_embedded_with_the_executions_permissions() {
    let s = Server::start("allow-read={ws}").await;
    std::fs::write(s.ws().join("report.csv"), "a,b\n1,2\n").unwrap();
    std::fs::write(s.ws().join("data.bin"), [0u8, 159, 146, 150]).unwrap();
    let r = s
        .call("run_deno_code", json!({ "deno_code": "mcp.file('report.csv'); mcp.file(WORKSPACE_DIR + '/data.bin'); 'ok'" }))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true), "{r:?}");
    let csv_uri = format!("file://{}", s.ws().join("report.csv").display());
    let ContentBlock::Resource(embedded) = &r.content[1] else { panic!("{:?}", r.content) };
    match &embedded.resource {
        ResourceContents::TextResourceContents { uri, mime_type, text, .. } => {
            assert_eq!((uri.as_str(), mime_type.as_deref(), text.as_str()), (csv_uri.as_str(), Some("text/csv"), "a,b\n1,2\n"));
        }
        other => panic!("text expected: {other:?}"),
    }
    let ContentBlock::Resource(embedded) = &r.content[2] else { panic!("{:?}", r.content) };
    match &embedded.resource {
        ResourceContents::BlobResourceContents { mime_type, blob, .. } => {
            assert_eq!(mime_type.as_deref(), Some("application/octet-stream"));
            assert_eq!(B64.decode(blob).unwrap(), [0, 159, 146, 150]);
        }
        other => panic!("blob expected: {other:?}"),
    }
    // Outside the read permission: a permission error, nothing attached.
    let r = s.run("mcp.file('/etc/hostname')").await;
    assert_eq!(r.error_type(), "permission", "{r:?}");
}

#[tokio::test]
async fn past_the_cap_the_call_is_a_limit_error_with_no_attachment() {
    let s = Server::start_env("", &[("MCP_CONDUCTOR_MAX_CONTENT_BYTES", "100")]).await;
    let r = s
        .call("run_deno_code", json!({ "deno_code": "mcp.image(new Uint8Array(60), 'image/png'); try { mcp.image(new Uint8Array(60), 'image/png') } catch {} 'caught'" }))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(true));
    assert_eq!(r.content.len(), 1, "no attachment is sent: {:?}", r.content);
    let text: serde_json::Value = serde_json::from_str(&r.content[0].as_text().unwrap().text).unwrap();
    assert_eq!(text["errorType"], json!("limit"), "{text}");
    assert!(text["error"].as_str().unwrap().contains("MCP_CONDUCTOR_MAX_CONTENT_BYTES"), "{text}");
    for (code, needle) in [
        ("mcp.image(new Uint8Array(1))", "mimeType must be a MIME type"),
        ("mcp.image(42, 'image/png')", "must be a Uint8Array"),
        ("mcp.image('not base64!', 'image/png')", "must be base64"),
    ] {
        let r = s.run(code).await;
        assert!(r.error().contains(needle), "{code}: {r:?}");
    }
    s.assert_healthy().await;
}
