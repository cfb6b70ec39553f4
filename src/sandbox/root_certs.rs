//! The certificate authorities code's TLS connections trust (`fetch`, WebSocket,
//! `Deno.connectTls`): Mozilla's roots built into the binary (the default), the system's store,
//! and a PEM bundle, e.g. the CA of a TLS-intercepting proxy (`MCP_CONDUCTOR_TLS_CA_STORE`,
//! `MCP_CONDUCTOR_TLS_CA_FILE`). Built once at startup; every worker shares it.

use std::path::Path;
use std::sync::Arc;

use deno_error::JsErrorBox;
use deno_runtime::deno_tls::rustls::RootCertStore;
use deno_runtime::deno_tls::rustls::pki_types::CertificateDer;
use deno_runtime::deno_tls::{self, RootCertStoreProvider};

use crate::config::CaStore;

struct Fixed(RootCertStore);

impl RootCertStoreProvider for Fixed {
    fn get_or_try_init(&self) -> Result<&RootCertStore, JsErrorBox> {
        Ok(&self.0)
    }
}

/// The store, or why it cannot be built (names the variable).
pub fn build(stores: &[CaStore], file: Option<&Path>) -> Result<Arc<dyn RootCertStoreProvider>, String> {
    let mut roots = RootCertStore::empty();
    for store in stores {
        match store {
            CaStore::Mozilla => roots.extend(deno_tls::webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            CaStore::System => {
                let certs = deno_tls::deno_native_certs::load_native_certs()
                    .map_err(|e| format!("MCP_CONDUCTOR_TLS_CA_STORE=system: cannot load the system's certificates: {e}"))?;
                let (added, _ignored) = roots.add_parsable_certificates(certs.into_iter().map(|c| CertificateDer::from(c.0)));
                if added == 0 {
                    return Err("MCP_CONDUCTOR_TLS_CA_STORE=system: the system store has no usable certificate".into());
                }
            }
        }
    }
    if let Some(file) = file {
        let fail = |why: String| format!("MCP_CONDUCTOR_TLS_CA_FILE: '{}': {why}", file.display());
        let opened = std::fs::File::open(file).map_err(|e| fail(e.to_string()))?;
        let certs = deno_tls::load_certs(&mut std::io::BufReader::new(opened)).map_err(|e| fail(e.to_string()))?;
        for cert in certs {
            roots.add(cert).map_err(|e| fail(e.to_string()))?;
        }
    }
    Ok(Arc::new(Fixed(roots)))
}
