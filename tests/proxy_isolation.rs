//! mcpFactory needs no permission, and grants none: code with zero permissions reaches the
//! upstream only through it, and never sees an upstream's environment or the config file.

mod common;

use common::{HttpUpstream, Server, upstream_entry};
use serde_json::json;

#[tokio::test]
async fn zero_permissions_reach_upstreams_only_through_mcp_factory() {
    let http = HttpUpstream::start().await;
    let mut up = upstream_entry();
    up["env"] = json!({ "UPSTREAM_SECRET": "s3cret" });
    let s = Server::with_upstreams("", json!({ "up": up, "web": { "url": http.url } }), &[]).await;
    let config = s.upstream_config.clone().unwrap();

    let r = s.run(r#"await (await mcpFactory.load("web")).callTool("add", { a: 20, b: 22 })"#).await;
    assert_eq!(r.value(), &json!(42), "streamable HTTP upstream through mcpFactory");

    let r = s.run(&format!("await fetch({:?})", http.url)).await;
    assert_eq!(r.error_type(), "permission", "{r:?}");
    let r = s.run(&format!("await Deno.readTextFile({:?})", config.display().to_string())).await;
    assert_eq!(r.error_type(), "permission", "{r:?}");
    let r = s.run(r#"new Deno.Command("true").outputSync()"#).await;
    assert_eq!(r.error_type(), "permission", "{r:?}");
    let r = s.run("PERMISSIONS").await;
    assert_eq!(r.value(), &json!([]));
}

#[tokio::test]
async fn upstream_env_reaches_only_the_upstream() {
    let mut up = upstream_entry();
    up["env"] = json!({ "UPSTREAM_SECRET": "s3cret" });
    let s = Server::with_upstreams("allow-env", json!({ "up": up }), &[]).await;
    let r = s
        .run(
            r#"
            const up = await mcpFactory.load("up");
            ({
              upstreamSees: await up.callTool("env", { name: "UPSTREAM_SECRET" }),
              codeSees: Deno.env.get("UPSTREAM_SECRET") ?? null,
              codeEnvKeys: Object.keys(Deno.env.toObject()).filter((k) => k.includes("SECRET")),
            })
            "#,
        )
        .await;
    assert_eq!(r.value(), &json!({ "upstreamSees": "s3cret", "codeSees": null, "codeEnvKeys": [] }));
}

#[tokio::test]
async fn mcp_factory_cannot_be_replaced_through_globals() {
    let s = Server::with_upstreams("", json!({ "up": upstream_entry() }), &[]).await;
    let err = s.call("run_deno_code", json!({ "deno_code": "1", "globals": { "mcpFactory": {} } })).await.unwrap_err();
    assert!(err.to_string().contains("'mcpFactory' is set by the server"), "{err}");
    // Replacing it from code affects only that execution.
    let r = s.run("globalThis.mcpFactory = null; 1").await;
    assert_eq!(r.value(), &json!(1));
    let r = s.run(r#"(await mcpFactory.load("up")).name"#).await;
    assert_eq!(r.value(), &json!("up"));
}
