//! A private PKI for TLS tests: a CA nobody's machine trusts, a server certificate and a client
//! certificate it signed, written as PEM files into a temporary folder.

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// A team's private CA with a server certificate for `127.0.0.1` and `bao.test` (not
/// `localhost`, so a wrong-name check can use it) and a client certificate (CN `harmony-cli`),
/// as PEM files. The folder is removed when this is dropped.
pub struct PrivatePki {
    /// The CA certificate.
    pub ca: PathBuf,
    /// A folder holding only the CA certificate (for `ca_path` / `*_CAPATH`).
    pub ca_dir: PathBuf,
    /// The server certificate the CA signed.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// A client certificate the CA signed (for mutual TLS).
    pub client_cert: PathBuf,
    /// Its private key.
    pub client_key: PathBuf,
    _dir: tempfile::TempDir,
}

impl PrivatePki {
    /// Generates a fresh CA and its certificates (a few milliseconds).
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Harmony test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "bao.test".to_string()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params
            .distinguished_name
            .push(DnType::CommonName, "harmony-cli");
        let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();
        let write = |name: &str, text: String| -> PathBuf {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let ca_dir = dir.path().join("cas");
        std::fs::create_dir(&ca_dir).unwrap();
        std::fs::write(ca_dir.join("company-ca.pem"), ca_cert.pem()).unwrap();
        PrivatePki {
            ca: write("ca.pem", ca_cert.pem()),
            cert: write("server.pem", cert.pem()),
            key: write("server-key.pem", key.serialize_pem()),
            client_cert: write("client.pem", client_cert.pem()),
            client_key: write("client-key.pem", client_key.serialize_pem()),
            ca_dir,
            _dir: dir,
        }
    }
}

impl Default for PrivatePki {
    fn default() -> Self {
        Self::new()
    }
}
