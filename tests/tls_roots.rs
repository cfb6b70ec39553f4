//! Which certificate authorities code's `fetch` trusts: the built-in roots by default, plus a
//! PEM bundle (`MCP_CONDUCTOR_TLS_CA_FILE`), e.g. a TLS-intercepting proxy's CA. A local HTTPS
//! server with a self-signed certificate (openssl + Python's ssl module) stands in for it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::Server;
use serde_json::json;

struct HttpsServer {
    child: Child,
    port: u16,
    cert: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn https_server() -> HttpsServer {
    let dir = tempfile::tempdir().unwrap();
    // A private CA and a server certificate it signed (webpki refuses a CA as the end entity).
    let p = |name: &str| dir.path().join(name);
    let openssl = |args: &[&str]| {
        let ok = Command::new("openssl").args(args).current_dir(dir.path()).stderr(Stdio::null()).status().expect("openssl");
        assert!(ok.success(), "openssl {args:?}");
    };
    openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
        "-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "server.csr"]);
    std::fs::write(p("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    openssl(&["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "1", "-extfile", "ext.cnf", "-out", "cert.pem"]);
    let (cert, key) = (p("cert.pem"), p("key.pem"));
    let script = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello over tls"
        self.send_response(200); self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = c.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().parse().expect("port line");
    HttpsServer { child, port, cert: p("ca.pem"), _dir: dir }
}

#[tokio::test]
async fn a_ca_file_makes_fetch_trust_a_private_ca() {
    let tls = https_server();
    let fetch = format!("await (await fetch('https://127.0.0.1:{}/')).text()", tls.port);
    let net = format!("allow-net=127.0.0.1:{}", tls.port);

    let untrusted = Server::start(&net).await;
    let r = untrusted.run(&fetch).await;
    assert_eq!(r.status(), "error", "{r:?}");
    assert!(r.error().contains("UnknownIssuer") || r.error().contains("certificate"), "{r:?}");

    let cert = tls.cert.display().to_string();
    let trusted = Server::start_env(&net, &[("MCP_CONDUCTOR_TLS_CA_FILE", cert.as_str())]).await;
    assert_eq!(trusted.run(&fetch).await.value(), &json!("hello over tls"));
}

#[test]
fn a_bad_ca_file_or_store_is_a_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("not-a-cert.pem");
    std::fs::write(&bad, "hello").unwrap();
    for (var, value) in [
        ("MCP_CONDUCTOR_TLS_CA_FILE", bad.display().to_string()),
        ("MCP_CONDUCTOR_TLS_CA_STORE", "nonsense".to_string()),
    ] {
        let out = Command::new(common::BIN)
            .env_clear()
            .env("HOME", dir.path())
            .env(var, &value)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}={value} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
}
