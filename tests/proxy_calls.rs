//! mcpFactory round trips to a real upstream MCP server (our test upstream over stdio), from a
//! sandbox with zero permissions; the list_mcp_servers and get_tools tools.

mod common;

use common::{Server, upstream_entry};
use serde_json::{Value, json};

async fn server() -> Server {
    let servers = json!({
        "up": upstream_entry(),
        "bad name!": { "command": "x" },
        "typo": { "comand": "x" },
        "off": { "command": "x", "disabled": true },
    });
    Server::with_upstreams("", servers, &[]).await
}

#[tokio::test]
async fn list_load_list_tools_and_call() {
    let s = server().await;
    let r = s
        .run(
            r#"
            const servers = await mcpFactory.listServers();
            const up = await mcpFactory.load("up");
            const tools = await up.listTools();
            ({
              servers: servers.map(({ name, status, error }) => ({ name, status, hasError: !!error })),
              upTools: servers[0].tools.includes("add"),
              loaded: up.tools.includes("structured"),
              add: tools.find((t) => t.name === "add"),
              sum: await up.callTool("add", { a: 2, b: 3 }),
              echo: await up.callTool("echo", { text: "plain words" }),
              structured: await up.callTool("structured"),
              raw: (await up.callToolRaw("echo", { text: "x" })).content,
            })
            "#,
        )
        .await;
    let v = r.value();
    assert_eq!(
        v["servers"],
        json!([
            { "name": "up", "status": "connected", "hasError": false },
            { "name": "bad name!", "status": "failed", "hasError": true },
            { "name": "typo", "status": "failed", "hasError": true },
        ])
    );
    assert_eq!(v["upTools"], json!(true));
    assert_eq!(v["loaded"], json!(true));
    assert_eq!(v["add"]["description"], json!("Adds two numbers."));
    assert_eq!(v["add"]["inputSchema"]["required"], json!(["a", "b"]));
    assert_eq!(v["sum"], json!(5));
    assert_eq!(v["echo"], json!("plain words"));
    assert_eq!(v["structured"], json!({ "items": [1, 2, 3], "total": 6 }));
    assert_eq!(v["raw"], json!([{ "type": "text", "text": "x" }]));
}

#[tokio::test]
async fn upstream_errors_throw() {
    let s = server().await;
    let r = s
        .run(
            r#"
            const up = await mcpFactory.load("up");
            let caught;
            try { await up.callTool("fail", { text: "quota exceeded" }); } catch (e) { caught = e; }
            const raw = await up.callToolRaw("fail", { text: "still data" });
            let unknownTool;
            try { await up.callTool("nope", {}); } catch (e) { unknownTool = e.message; }
            let badArgs;
            try { await up.callTool("add", [1, 2]); } catch (e) { badArgs = e.message; }
            ({ message: caught.message, isError: caught.result.isError, raw: raw.isError, unknownTool, badArgs })
            "#,
        )
        .await;
    let v = r.value();
    assert_eq!(v["message"], json!("up.fail failed: quota exceeded"));
    assert_eq!(v["isError"], json!(true));
    assert_eq!(v["raw"], json!(true));
    let unknown = v["unknownTool"].as_str().unwrap();
    assert!(unknown.contains("up has no tool 'nope'") && unknown.contains("add"), "{unknown}");
    assert!(v["badArgs"].as_str().unwrap().contains("must be an object, got an array"), "{v}");

    // Uncaught, an upstream failure is an ordinary runtime error of the execution.
    let r = s.run(r#"await (await mcpFactory.load("up")).callTool("fail", { text: "boom" })"#).await;
    assert_eq!(r.error_type(), "runtime");
    assert!(r.error().contains("up.fail failed: boom"), "{r:?}");
}

#[tokio::test]
async fn unknown_and_misconfigured_servers() {
    let s = server().await;
    let r = s.run(r#"await mcpFactory.load("github")"#).await;
    assert_eq!(r.error_type(), "runtime");
    assert!(r.error().contains("no upstream MCP server named 'github'; configured: up, bad name!, typo"), "{r:?}");
    let r = s.run(r#"await mcpFactory.load("typo")"#).await;
    assert!(r.error().contains("upstream 'typo' is misconfigured") && r.error().contains("unknown field `comand`"), "{r:?}");
    let r = s.run(r#"await mcpFactory.load("")"#).await;
    assert!(r.error().contains("server name must be a non-empty string"), "{r:?}");
}

/// A config file broken while the server runs: listing servers says so instead of `[]`.
#[tokio::test]
async fn a_config_broken_at_run_time_is_an_error_not_an_empty_list() {
    let s = Server::with_upstreams("", json!({ "up": upstream_entry() }), &[]).await;
    let r = s.run("(await mcpFactory.listServers()).map((s) => s.name)").await;
    assert_eq!(r.value(), &json!(["up"]));
    std::fs::write(s.upstream_config.as_ref().unwrap(), "{\"mcpServers\": {").unwrap();
    let r = s.run("await mcpFactory.listServers()").await;
    assert_eq!(r.error_type(), "runtime", "{r:?}");
    assert!(r.error().contains("the upstream server config is unusable: not valid JSON"), "{r:?}");
}

#[tokio::test]
async fn no_config_means_no_servers() {
    let s = Server::start("").await;
    let r = s.run("await mcpFactory.listServers()").await;
    assert_eq!(r.value(), &json!([]));
    let r = s.run(r#"await mcpFactory.load("github")"#).await;
    let home_config = s.dir.path().join(".mcp-conductor/mcp-config.json");
    assert!(r.error().contains("no upstream MCP servers are configured"), "{r:?}");
    assert!(r.error().contains(&home_config.display().to_string()), "{r:?}");
    assert!(r.error().contains("MCP_CONDUCTOR_MCP_CONFIG"), "{r:?}");
}

#[tokio::test]
async fn list_mcp_servers_and_get_tools() {
    let s = server().await;
    let listed = s.call("list_mcp_servers", json!({})).await.unwrap();
    let text = &listed.content[0].as_text().unwrap().text;
    assert!(text.contains("up: connected, 9 tools"), "{text}");
    assert!(text.contains("  add(a: number, b: number) - Adds two numbers."), "{text}");
    assert!(text.contains("typo: failed - invalid entry: unknown field `comand`"), "{text}");
    let structured = listed.structured_content.unwrap();
    assert_eq!(structured["servers"][0]["toolCount"], json!(9));
    assert_eq!(structured["servers"][0]["transport"], json!("stdio"));
    assert_eq!(structured["servers"][2]["status"], json!("failed"));

    let tools = s.call("get_tools", json!({ "server": "up", "tools": ["add"] })).await.unwrap();
    assert_ne!(tools.is_error, Some(true));
    let structured = tools.structured_content.unwrap();
    assert_eq!(structured["tools"].as_array().unwrap().len(), 1);
    assert_eq!(structured["tools"][0]["inputSchema"]["properties"]["a"]["type"], json!("number"));

    let unknown = s.call("get_tools", json!({ "server": "nope" })).await.unwrap();
    assert_eq!(unknown.is_error, Some(true));
    assert!(unknown.content[0].as_text().unwrap().text.contains("configured: up, bad name!, typo"));
    let unknown_tool = s.call("get_tools", json!({ "server": "up", "tools": ["add", "zzz"] })).await.unwrap();
    assert_eq!(unknown_tool.is_error, Some(true));
    assert!(unknown_tool.content[0].as_text().unwrap().text.contains("up has no tool zzz; its tools: add"));
}

/// `get_tools` with `format: "typescript"` declares the tools, and the loaded server object has
/// a method per tool that the declarations name.
#[tokio::test]
async fn typescript_declarations_and_tool_methods() {
    let s = server().await;
    let r = s.call("get_tools", json!({ "server": "up", "format": "typescript" })).await.unwrap();
    assert_ne!(r.is_error, Some(true));
    let text = &r.content[0].as_text().unwrap().text;
    for needle in [
        "export interface AddInput {",
        "a: number;",
        "/** Adds two numbers. */\n  add(args: AddInput): Promise<AddOutput>;",
        "export interface UpServer {",
    ] {
        assert!(text.contains(needle), "lacks {needle:?}:\n{text}");
    }
    let structured = r.structured_content.unwrap();
    assert_eq!(structured["typescript"].as_str(), Some(text.as_str()));
    let bad = s.call("get_tools", json!({ "server": "up", "format": "yaml" })).await;
    assert!(bad.is_err(), "an unknown format is invalid params: {bad:?}");

    let r = s
        .run(
            r#"
            const up = await mcpFactory.load("up");
            [await up.add({ a: 2, b: 3 }), await up.echo({ text: "hi" }), typeof up.then, Object.isFrozen(up)]
            "#,
        )
        .await;
    assert_eq!(r.value(), &json!([5, "hi", "undefined", true]));
    let r = s.run(r#"const up = await mcpFactory.load("up"); await up.fail({ text: "boom" })"#).await;
    assert!(r.error().contains("boom"), "methods throw like callTool: {r:?}");
}

/// Resources and prompts of an upstream, and an upstream without them.
#[tokio::test]
async fn resources_and_prompts() {
    let mut bare = common::upstream_entry();
    bare["args"] = json!(["--no-extras"]);
    let s = Server::with_upstreams("", json!({ "up": common::upstream_entry(), "bare": bare }), &[]).await;
    let r = s
        .run(
            r#"
            const up = await mcpFactory.load("up");
            const resources = await up.listResources();
            const read = await up.readResource(resources[0].uri);
            const prompts = await up.listPrompts();
            const prompt = await up.getPrompt("greet", { who: "Ada" });
            [resources.map((r) => r.uri), read.contents[0].text, prompts.map((p) => p.name), prompt.messages[0].content.text]
            "#,
        )
        .await;
    assert_eq!(r.value(), &json!([["memo://note"], "remember the milk", ["greet"], "Hello, Ada!"]));
    let r = s.run(r#"const up = await mcpFactory.load("up"); await up.readResource("memo://missing")"#).await;
    assert!(r.error().contains("no resource memo://missing"), "{r:?}");

    let r = s
        .run(r#"const b = await mcpFactory.load("bare"); [await b.listResources(), await b.listPrompts()]"#)
        .await;
    assert_eq!(r.value(), &json!([[], []]));
    let r = s.run(r#"const b = await mcpFactory.load("bare"); await b.readResource("memo://note")"#).await;
    assert!(r.error().contains("bare: it offers no resources"), "{r:?}");
    let r = s.run(r#"const b = await mcpFactory.load("bare"); await b.getPrompt("greet")"#).await;
    assert!(r.error().contains("bare: it offers no prompts"), "{r:?}");

    let listed = s.call("list_mcp_servers", json!({})).await.unwrap();
    let text = &listed.content[0].as_text().unwrap().text;
    assert!(text.contains("up: connected, 9 tools, 1 resource, 1 prompt"), "{text}");
    let structured = listed.structured_content.unwrap();
    let up = structured["servers"].as_array().unwrap().iter().find(|s| s["name"] == "up").unwrap().clone();
    assert_eq!((up["resourceCount"].clone(), up["promptCount"].clone()), (json!(1), json!(1)));
}

/// Every result lists the code's tool calls, resource reads and prompts (not the listings), with
/// their outcome; a call still pending when the execution ended is unfinished; at most 100.
#[tokio::test]
async fn results_trace_the_upstream_calls_the_code_made() {
    let s = server().await;
    let r = s
        .run(
            r#"
            const up = await mcpFactory.load("up");
            await up.listTools();
            await up.callTool("add", { a: 1, b: 2 });
            try { await up.callTool("fail", { text: "quota exceeded" }); } catch {}
            await up.callToolRaw("fail", { text: "raw" });
            await up.readResource("memo://note");
            await up.getPrompt("greet", { who: "Ada" });
            "done"
            "#,
        )
        .await;
    assert_eq!(r.value(), &json!("done"));
    let calls = r.text["calls"].as_array().unwrap_or_else(|| panic!("calls listed: {r:?}"));
    let seen: Vec<Value> = calls.iter().map(|c| json!([c["type"], c["server"], c["name"], c["status"], c["error"]])).collect();
    assert_eq!(
        seen,
        [
            json!(["tool", "up", "add", "ok", null]),
            json!(["tool", "up", "fail", "error", "up.fail failed: quota exceeded"]),
            json!(["tool", "up", "fail", "error", "the tool reported an error (isError)"]),
            json!(["resource", "up", "memo://note", "ok", null]),
            json!(["prompt", "up", "greet", "ok", null]),
        ]
    );
    assert!(calls.iter().all(|c| c["duration"].as_f64().is_some_and(|d| d >= 0.0)), "{calls:?}");
    assert_eq!(r.structured["calls"], r.text["calls"], "structuredContent carries the same list");
    assert!(r.text.get("callsOmitted").is_none());

    // A call the deadline cut short.
    let r = s.run_timeout(r#"await (await mcpFactory.load("up")).callTool("slow", { ms: 10000 })"#, 700).await;
    assert_eq!(r.error_type(), "timeout");
    assert_eq!(r.text["calls"][0]["name"], json!("slow"));
    assert_eq!(r.text["calls"][0]["status"], json!("unfinished"), "{r:?}");

    // Code that calls nothing upstream: no list.
    let r = s.run("1 + 1").await;
    assert!(r.text.get("calls").is_none(), "{r:?}");

    // Bounded: the first 100, the rest counted.
    let r = s
        .run(r#"const up = await mcpFactory.load("up"); for (let i = 0; i < 105; i++) await up.callTool("add", { a: i, b: 1 }); 1"#)
        .await;
    assert_eq!(r.text["calls"].as_array().map(Vec::len), Some(100));
    assert_eq!(
        r.text["callsOmitted"],
        json!([{ "type": "tool", "server": "up", "name": "add", "count": 5, "errors": 0 }]),
        "the rest summed up per name"
    );
    s.assert_healthy().await;
}
