//! The release binary is one self-contained artifact: copied alone into an empty directory, with
//! HOME empty and the cargo registry hidden, it still runs Deno's whole runtime (snapshot plus
//! embedded lazy sources).

use std::path::PathBuf;
use std::process::Stdio;

use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::ServiceExt;
use serde_json::{Map, Value, json};

fn cargo_registry() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cargo"))
        .join("registry")
}

/// Can this machine hide a directory from one child process (a private mount namespace)?
fn can_hide_registry() -> bool {
    std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -t tmpfs none \"$1\"", "sh"])
        .arg(cargo_registry())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn copied_binary_runs_without_home_or_cargo_registry() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin").join("mcp-conductor");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_mcp-conductor"), &bin).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    let hide = can_hide_registry();
    if !hide {
        eprintln!("NOTE: cannot create a mount namespace here; the registry stays visible for this test");
    }
    let registry = cargo_registry();
    let command = if hide {
        tokio::process::Command::new("unshare").configure(|cmd| {
            cmd.args(["-m", "sh", "-c", "mount -t tmpfs none \"$1\" && exec \"$2\" stdio", "sh"])
                .arg(&registry)
                .arg(&bin);
        })
    } else {
        tokio::process::Command::new(&bin)
    };
    let command = command.configure(|cmd| {
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("MCP_CONDUCTOR_LOG", "warn")
            .current_dir(dir.path());
    });
    let (transport, _) = TokioChildProcess::builder(command).stderr(Stdio::inherit()).spawn().unwrap();
    let client = ().serve(transport).await.expect("initialize");

    let run = |code: &'static str| {
        let client = &client;
        async move {
            let mut args = Map::new();
            args.insert("deno_code".into(), json!(code));
            let result = client.call_tool(CallToolRequestParams::new("run_deno_code").with_arguments(args)).await.unwrap();
            result.structured_content.unwrap()
        }
    };
    let ok = |v: &Value| v["status"] == "success";

    // Eager runtime, lazily loaded extension code, TypeScript, imports, errors with source lines.
    let cases: [(&str, Value); 6] = [
        ("1+1", json!(2)),
        ("const u: URL = new URL('https://a.b/c?d=1'); u.searchParams.get('d')", json!("1")),
        ("structuredClone({ a: [1, 2] })", json!({ "a": [1, 2] })),
        ("(await import('data:text/javascript,export default 5')).default", json!(5)),
        ("new TextDecoder().decode(new TextEncoder().encode('hé'))", json!("hé")),
        ("await crypto.subtle.digest('SHA-256', new Uint8Array([1])).then(b => b.byteLength)", json!(32)),
    ];
    for (code, expected) in cases {
        let r = run(code).await;
        assert!(ok(&r), "{code}: {r}");
        assert_eq!(r["returnValue"], expected, "{code}");
    }
    let r = run("await Deno.readTextFile('/etc/hostname')").await;
    assert_eq!(r["errorType"], "permission", "{r}");
    let r = run("await fetch('http://127.0.0.1:9/')").await;
    assert_eq!(r["status"], "error", "{r}");
    let r = run("throw new Error('located')").await;
    assert!(r["error"].as_str().unwrap().contains("$code.ts:1:"), "{r}");
    assert!(home.read_dir().unwrap().any(|e| e.unwrap().file_name() == ".mcp-conductor"), "default workspace under HOME");
    client.cancel().await.ok();
}
