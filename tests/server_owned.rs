//! Files the server owns are out of reach whatever the grants: the upstream MCP config (its
//! `command`s are run by the server, its `env`/`headers` hold secrets), the other config names
//! next to it, and the server's own /proc entries.

mod common;

use common::Server;
use serde_json::json;

const EVERYTHING_BUT_RUN_AND_FFI: &str = "allow-read,allow-write,allow-env,allow-net,allow-sys,allow-import";

#[tokio::test]
async fn upstream_config_and_proc_self_are_denied_with_every_grant() {
    let s = Server::with_upstreams(EVERYTHING_BUT_RUN_AND_FFI, json!({}), &[]).await;
    let config = s.upstream_config.clone().unwrap();
    let before = std::fs::read_to_string(&config).unwrap();
    let sibling = config.parent().unwrap().join("mcp.json");
    let cases = [
        format!("Deno.readTextFileSync({:?})", config.display().to_string()),
        format!("Deno.writeTextFileSync({:?}, '{{\"mcpServers\":{{}}}}')", config.display().to_string()),
        format!("Deno.writeTextFileSync({:?}, '{{}}')", sibling.display().to_string()),
        format!("await import({:?}, {{ with: {{ type: 'json' }} }})", format!("file://{}", config.display())),
        "Deno.readFileSync('/proc/self/environ')".to_string(),
        "Deno.readFileSync('/proc/thread-self/environ')".to_string(),
        "Deno.openSync('/proc/self/mem', { write: true })".to_string(),
        "Deno.readTextFileSync(`/proc/${Deno.pid}/status`)".to_string(),
        "Deno.readDirSync('/proc/self/fd')".to_string(),
        "Deno.writeTextFileSync('/dev/fd/1', 'x')".to_string(),
    ];
    // Thread ids work as /proc entries too, though /proc does not list them.
    let tid = std::fs::read_dir(format!("/proc/{}/task", s.pid))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|t| *t != s.pid.to_string())
        .expect("the server has threads");
    let cases: Vec<String> = cases
        .into_iter()
        .chain([
            format!("Deno.readTextFileSync('/proc/{tid}/environ')"),
            format!("Deno.openSync('/proc/{tid}/mem', {{ write: true }})"),
            format!("Deno.statSync('/proc/{tid}')"),
        ])
        .collect();
    for code in &cases {
        let r = s.run(code).await;
        assert_eq!(r.error_type(), "permission", "{code}: {r:?}");
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before, "the config file was changed");
    assert!(!sibling.exists());
    // Everything else stays readable and writable.
    let r = s.run("Deno.writeTextFileSync('ok.txt', 'fine'); Deno.readTextFileSync('ok.txt')").await;
    assert_eq!(r.value(), &json!("fine"));
    let r = s.run("Deno.readTextFileSync('/etc/hostname').length > 0").await;
    assert_eq!(r.value(), &json!(true));
}

/// A config in a Kubernetes ConfigMap volume (`..data` → a timestamped directory the kubelet
/// swaps on update): the whole volume is denied, so a new copy is out of reach too.
#[tokio::test]
async fn a_projected_volume_is_denied_whole() {
    let volume = tempfile::tempdir().unwrap();
    let v = volume.path();
    std::fs::create_dir(v.join("..2026_12_01_00_00_00.1")).unwrap();
    std::fs::write(v.join("..2026_12_01_00_00_00.1/mcp.json"), r#"{"mcpServers":{}}"#).unwrap();
    std::os::unix::fs::symlink("..2026_12_01_00_00_00.1", v.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/mcp.json", v.join("mcp.json")).unwrap();
    let config = v.join("mcp.json").display().to_string();
    let s = Server::start_env(EVERYTHING_BUT_RUN_AND_FFI, &[("MCP_CONDUCTOR_MCP_CONFIG", config.as_str())]).await;
    // The kubelet's next update: a new directory, not known at startup.
    std::fs::create_dir(v.join("..2026_12_01_00_05_00.2")).unwrap();
    std::fs::write(v.join("..2026_12_01_00_05_00.2/mcp.json"), r#"{"mcpServers":{}}"#).unwrap();
    for path in ["..2026_12_01_00_05_00.2/mcp.json", "..2026_12_01_00_00_00.1/mcp.json", "mcp.json"] {
        let code = format!("Deno.readTextFileSync({:?})", v.join(path).display().to_string());
        let r = s.run(&code).await;
        assert_eq!(r.error_type(), "permission", "{code}: {r:?}");
    }
}
