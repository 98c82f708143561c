//! The rustls configuration: the Mozilla roots (webpki-roots) or the caller's CA
//! certificates, ring's cryptography, TLS 1.2 and 1.3. Built on the first https
//! connection, so a client that is created and freed (or that speaks plain http
//! to a local emulator) never pays for it.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use super::HttpError;

#[derive(Debug)]
pub(crate) struct TlsSetup {
    /// The caller's trust anchors; `None`: the built-in roots.
    roots: Option<Arc<RootCertStore>>,
    config: OnceLock<Arc<ClientConfig>>,
}

impl TlsSetup {
    /// Checks the caller's CA certificates (DER) now, so that a bad one is
    /// reported when the client is built, not at its first call.
    pub(crate) fn new(ca_certificates: &[Vec<u8>]) -> Result<TlsSetup, String> {
        let roots = if ca_certificates.is_empty() {
            None
        } else {
            let mut store = RootCertStore::empty();
            for (index, der) in ca_certificates.iter().enumerate() {
                store
                    .add(CertificateDer::from(der.as_slice()))
                    .map_err(|e| format!("CA certificate {} cannot be used: {e}", index + 1))?;
            }
            Some(Arc::new(store))
        };
        Ok(TlsSetup {
            roots,
            config: OnceLock::new(),
        })
    }

    pub(crate) fn config(&self) -> Result<Arc<ClientConfig>, HttpError> {
        if let Some(config) = self.config.get() {
            return Ok(config.clone());
        }
        let roots = match &self.roots {
            Some(roots) => roots.clone(),
            None => Arc::new(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .map_err(|e| HttpError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // Two threads may both build it; either result is the same.
        Ok(self.config.get_or_init(|| Arc::new(config)).clone())
    }
}

/// The name a server's certificate must match: a DNS name or an IP address.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, HttpError> {
    ServerName::try_from(host.to_owned())
        .map_err(|_| HttpError::Tls(format!("{host:?} is not a valid server name")))
}
