//! TLS identities for QUIC: every Faro connection is mutually authenticated.
//!
//! Both sides present a certificate and both check the other's against the
//! configured certificate authority, so a process whose certificate the CA
//! did not sign cannot connect, nor accept connections from Faro peers.
//!
//! - In a cluster, the certificate chain, private key and CA come from PEM
//!   files named in configuration ([`TlsConfig::from_pem_files`]).
//! - In embedded mode and tests, [`LocalCa`] generates a throw-away CA and
//!   issues identities from it on the fly; [`IssuedIdentity::write_pem_files`]
//!   hands one to another local process.
//!
//! Only TLS 1.3 (QUIC requires it) with the `ring` provider is used.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::TransportError;

/// ALPN protocol name: a peer speaking anything else is refused.
pub const ALPN: &[u8] = b"faro/1";

/// A certificate chain, its private key, and the CA roots peers must chain to.
#[derive(Debug)]
pub struct TlsConfig {
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    roots: Vec<CertificateDer<'static>>,
}

impl Clone for TlsConfig {
    fn clone(&self) -> Self {
        Self {
            cert_chain: self.cert_chain.clone(),
            key: self.key.clone_key(),
            roots: self.roots.clone(),
        }
    }
}

fn tls_error(context: &str, error: impl std::fmt::Display) -> TransportError {
    TransportError::Tls(format!("{context}: {error}"))
}

fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, TransportError> {
    std::fs::read(path).map_err(|e| tls_error(&format!("cannot read {what} {}", path.display()), e))
}

fn parse_certificates(
    pem: &[u8],
    path: &Path,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(&format!("invalid PEM in {what} {}", path.display()), e))?;
    if certs.is_empty() {
        return Err(TransportError::Tls(format!(
            "no certificate found in {what} {}",
            path.display()
        )));
    }
    Ok(certs)
}

impl TlsConfig {
    /// Reads a certificate chain, private key and CA bundle from PEM files.
    pub fn from_pem_files(cert: &Path, key: &Path, ca: &Path) -> Result<Self, TransportError> {
        let cert_chain = parse_certificates(&read_pem(cert, "certificate")?, cert, "certificate")?;
        let roots = parse_certificates(&read_pem(ca, "CA bundle")?, ca, "CA bundle")?;
        let key_pem = read_pem(key, "private key")?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| tls_error(&format!("no usable private key in {}", key.display()), e))?;
        Ok(Self {
            cert_chain,
            key,
            roots,
        })
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn root_store(&self) -> Result<rustls::RootCertStore, TransportError> {
        let mut store = rustls::RootCertStore::empty();
        for root in &self.roots {
            store
                .add(root.clone())
                .map_err(|e| tls_error("unusable CA certificate", e))?;
        }
        Ok(store)
    }

    /// The QUIC server side: presents our chain, requires a client
    /// certificate signed by the CA.
    pub fn quic_server_config(&self) -> Result<QuicServerConfig, TransportError> {
        let provider = Self::provider();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(self.root_store()?),
            provider.clone(),
        )
        .build()
        .map_err(|e| tls_error("client verifier", e))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| tls_error("protocol versions", e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.cert_chain.clone(), self.key.clone_key())
            .map_err(|e| tls_error("server certificate", e))?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        QuicServerConfig::try_from(config).map_err(|e| tls_error("QUIC server config", e))
    }

    /// The QUIC client side: checks the server against the CA and presents
    /// our chain as the client certificate.
    pub fn quic_client_config(&self) -> Result<QuicClientConfig, TransportError> {
        let mut config = rustls::ClientConfig::builder_with_provider(Self::provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| tls_error("protocol versions", e))?
            .with_root_certificates(self.root_store()?)
            .with_client_auth_cert(self.cert_chain.clone(), self.key.clone_key())
            .map_err(|e| tls_error("client certificate", e))?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        QuicClientConfig::try_from(config).map_err(|e| tls_error("QUIC client config", e))
    }
}

/// A certificate authority that lives only in memory, for embedded mode and
/// tests: it issues identities that trust each other and nothing else.
pub struct LocalCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
}

impl LocalCa {
    /// Generates a fresh CA key and self-signed CA certificate.
    pub fn generate() -> Result<Self, TransportError> {
        let key = rcgen::KeyPair::generate().map_err(|e| tls_error("CA key", e))?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| tls_error("CA params", e))?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "faro local CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params
            .self_signed(&key)
            .map_err(|e| tls_error("CA certificate", e))?;
        Ok(Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: rcgen::Issuer::new(params, key),
        })
    }

    /// Issues an identity valid for `names` (DNS names or IP addresses),
    /// usable as both server and client certificate.
    pub fn issue(&self, names: &[&str]) -> Result<IssuedIdentity, TransportError> {
        let key = rcgen::KeyPair::generate().map_err(|e| tls_error("identity key", e))?;
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params =
            rcgen::CertificateParams::new(names).map_err(|e| tls_error("identity params", e))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "faro");
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| tls_error("identity certificate", e))?;
        let tls = TlsConfig {
            cert_chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            roots: vec![self.cert_der.clone()],
        };
        Ok(IssuedIdentity {
            tls,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            ca_pem: self.cert_pem.clone(),
        })
    }
}

/// An identity issued by a [`LocalCa`], with its PEM encodings.
#[derive(Clone)]
pub struct IssuedIdentity {
    tls: TlsConfig,
    cert_pem: String,
    key_pem: String,
    ca_pem: String,
}

/// Where [`IssuedIdentity::write_pem_files`] put the three PEM files.
#[derive(Debug, Clone)]
pub struct PemPaths {
    /// The certificate.
    pub cert: PathBuf,
    /// The private key (written with mode 0600).
    pub key: PathBuf,
    /// The CA certificate.
    pub ca: PathBuf,
}

impl IssuedIdentity {
    /// The identity as a TLS configuration.
    pub fn tls_config(&self) -> TlsConfig {
        self.tls.clone()
    }

    /// The certificate chain, PEM-encoded.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PEM-encoded.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The CA's certificate, PEM-encoded.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Writes `cert.pem`, `key.pem` and `ca.pem` into `dir`, so another
    /// process can load the identity with [`TlsConfig::from_pem_files`].
    pub fn write_pem_files(&self, dir: &Path) -> Result<PemPaths, TransportError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let paths = PemPaths {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            ca: dir.join("ca.pem"),
        };
        std::fs::write(&paths.cert, &self.cert_pem)?;
        std::fs::write(&paths.ca, &self.ca_pem)?;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&paths.key)?
            .write_all(self.key_pem.as_bytes())?;
        Ok(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_identity_round_trips_through_pem_files() {
        let dir = std::env::temp_dir().join(format!("faro-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let identity = LocalCa::generate().unwrap().issue(&["localhost"]).unwrap();
        let paths = identity.write_pem_files(&dir).unwrap();
        let loaded = TlsConfig::from_pem_files(&paths.cert, &paths.key, &paths.ca).unwrap();
        assert_eq!(loaded.cert_chain, identity.tls.cert_chain);
        assert_eq!(loaded.roots, identity.tls.roots);
        loaded.quic_server_config().unwrap();
        loaded.quic_client_config().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_or_empty_files_are_named() {
        let missing = Path::new("/nonexistent/faro/cert.pem");
        let err = TlsConfig::from_pem_files(missing, missing, missing).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/faro/cert.pem"),
            "{err}"
        );

        let empty = std::env::temp_dir().join(format!("faro-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a pem file").unwrap();
        let err = TlsConfig::from_pem_files(&empty, &empty, &empty).unwrap_err();
        assert!(err.to_string().contains("no certificate found"), "{err}");
        std::fs::remove_file(&empty).unwrap();
    }
}
