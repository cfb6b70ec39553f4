//! Captured output: order, streams, and the protection of the JSON-RPC stream.
mod common;

use common::Server;
use serde_json::json;

#[tokio::test]
async fn console_streams_in_order() {
    let s = Server::start("").await;
    let r = s.run("console.log('hi'); console.error('err'); console.log('a', 1, {b: 2}); 42").await;
    assert_eq!(r.value(), &json!(42));
    assert_eq!(r.output(), vec!["hi", "err", "a 1 { b: 2 }"]);
    assert_eq!(r.structured["stdout"], json!("hi\na 1 { b: 2 }\n"));
    assert_eq!(r.structured["stderr"], json!("err\n"));
    // Same object in both places, apart from the raw streams.
    let mut structured = r.structured.clone();
    let obj = structured.as_object_mut().unwrap();
    obj.remove("stdout");
    obj.remove("stderr");
    assert_eq!(structured, r.text);
}

#[tokio::test]
async fn text_item_key_order_matches_the_original() {
    let s = Server::start("").await;
    let result = s.call("run_deno_code", json!({ "deno_code": "console.log('hi'); 2" })).await.unwrap();
    let text = &result.content[0].as_text().unwrap().text;
    let keys: Vec<&str> = ["\"status\"", "\"output\"", "\"returnValue\"", "\"executionTime\""]
        .into_iter()
        .collect();
    let positions: Vec<usize> = keys.iter().map(|k| text.find(k).expect(k)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(!text.contains("stdout"), "{text}");
}

#[tokio::test]
async fn deno_stdout_writes_are_captured() {
    let s = Server::start("").await;
    let r = s
        .run("await Deno.stdout.write(new TextEncoder().encode('raw out\\n')); await Deno.stderr.write(new TextEncoder().encode('raw err\\n')); 1")
        .await;
    assert_eq!(r.value(), &json!(1));
    assert!(r.output().contains(&"raw out".to_string()), "{r:?}");
    assert!(r.output().contains(&"raw err".to_string()), "{r:?}");
}

#[tokio::test]
async fn stdin_is_empty_never_the_rpc_stream() {
    let s = Server::start("").await;
    let r = s
        .run("const b = new Uint8Array(10); const n = await Deno.stdin.read(b); n")
        .await;
    assert_eq!(r.value(), &json!(null), "stdin must be at EOF");
    s.assert_healthy().await;
}

#[tokio::test]
async fn json_rpc_lookalikes_stay_inside_output() {
    let s = Server::start("").await;
    let r = s
        .run(r#"console.log('{"jsonrpc":"2.0"}'); console.error('{"jsonrpc":"2.0","method":"x"}'); 'ok'"#)
        .await;
    assert_eq!(r.value(), &json!("ok"));
    assert_eq!(r.output(), vec![r#"{"jsonrpc":"2.0"}"#, r#"{"jsonrpc":"2.0","method":"x"}"#]);
    s.assert_healthy().await;
}

#[tokio::test]
async fn child_process_output_is_captured_not_leaked() {
    let s = Server::start("allow-run=sh").await;
    let r = s
        .run("const c = new Deno.Command('sh', { args: ['-c', 'echo child-out; echo child-err >&2'], stdout: 'inherit', stderr: 'inherit' }); (await c.output()).code")
        .await;
    assert_eq!(r.value(), &json!(0));
    let out = r.output();
    assert!(out.contains(&"child-out".to_string()) && out.contains(&"child-err".to_string()), "{r:?}");
    s.assert_healthy().await;
}
