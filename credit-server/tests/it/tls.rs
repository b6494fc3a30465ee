//! TLS: a server on 127.0.0.1 with a certificate of a test CA made here (rcgen), reached through the SDK
//! with `https://` and the CA; client certificates required of providers; plaintext refused off
//! loopback; a private key others can read refused.

use std::path::{Path, PathBuf};

use credit_client::{ClientConfig, ClientError, CreditClient, proto};
use credit_server::auth::{KeyFile, Role};
use credit_server::{Config, ServeOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tonic::Code;

use super::grpc::{COMPANY, copy_dir, template};

/// A CA, a server certificate for 127.0.0.1 and localhost, and a client certificate, as PEM.
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "credit test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>, common_name: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, common_name);
        let cert = params.signed_by(&key, &ca).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca: ca.pem(),
        server: leaf(vec!["127.0.0.1".into(), "localhost".into()], "credit-server"),
        client: leaf(vec!["provider.example".into()], "市场监管局"),
    }
}

fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

struct Setup {
    _dir: tempfile::TempDir,
    config: Config,
    regulator: String,
    provider: String,
}

fn setup(pki: &Pki) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_dir(&template().join("data"), &data);
    let keys = KeyFile::in_dir(&data);
    let regulator = keys.create(Role::Regulator, Some("市财政局".into()), None).unwrap().token;
    let provider = keys.create(Role::Provider, Some("市场监管局".into()), None).unwrap().token;
    let file = |name: &str, text: &str| -> PathBuf {
        let path = dir.path().join(name);
        write_private(&path, text);
        path
    };
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data,
        tls_cert: file("server.pem", &pki.server.0),
        tls_key: file("server.key", &pki.server.1),
        tls_client_ca: file("ca.pem", &pki.ca),
        client_cert_roles: vec!["provider".into()],
        ..Config::default()
    };
    Setup { _dir: dir, config, regulator, provider }
}

fn client_config(addr: std::net::SocketAddr, token: &str, pki: &Pki) -> ClientConfig {
    let mut config = ClientConfig::new(format!("https://{addr}"));
    config.token = Some(token.into());
    config.ca_pem = Some(pki.ca.clone().into_bytes());
    config.retries = 0;
    config
}

fn get() -> proto::GetSubjectRequest {
    proto::GetSubjectRequest { identifier: COMPANY.into(), ..Default::default() }
}

#[tokio::test]
async fn tls_with_client_certificates_for_departments() {
    let pki = pki();
    let setup = setup(&pki);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = credit_server::serve(ServeOptions { config: setup.config.clone(), demo: false }, async {
        let _ = stopped.await;
    })
    .await
    .expect("a TLS server starts");
    let addr = running.addr;
    let serving = tokio::spawn(running.serving);

    // A regulator over TLS, the server's certificate checked against the CA.
    let regulator = CreditClient::connect(client_config(addr, &setup.regulator, &pki)).await.unwrap();
    assert_eq!(regulator.get_subject(get()).await.unwrap().subject.unwrap().code, COMPANY);

    // Plaintext, and TLS without the CA, do not get through.
    let mut plain = ClientConfig::new(format!("http://{addr}"));
    plain.retries = 0;
    let plaintext = match CreditClient::connect(plain).await {
        Ok(client) => client.get_subject(get()).await.map(|_| ()),
        Err(error) => Err(error),
    };
    assert!(plaintext.is_err(), "plaintext to a TLS server");
    let mut unknown_ca = client_config(addr, &setup.regulator, &pki);
    unknown_ca.ca_pem = Some(pki::other_ca().into_bytes());
    assert!(matches!(CreditClient::connect(unknown_ca).await, Err(ClientError::Connect { .. })));

    // A provider's key alone is not enough: its connection must carry a client certificate of the CA.
    let provider = CreditClient::connect(client_config(addr, &setup.provider, &pki)).await.unwrap();
    match provider.get_subject(get()).await {
        Err(ClientError::Call(status)) => {
            assert_eq!(status.code(), Code::Unauthenticated);
            assert!(status.message().contains("client certificate"), "{}", status.message());
        }
        other => panic!("a provider without a client certificate: {other:?}"),
    }
    let mut with_cert = client_config(addr, &setup.provider, &pki);
    with_cert.identity_pem = Some((pki.client.0.clone().into_bytes(), pki.client.1.clone().into_bytes()));
    let provider = CreditClient::connect(with_cert).await.unwrap();
    assert_eq!(provider.get_subject(get()).await.unwrap().subject.unwrap().code, COMPANY);

    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}

#[tokio::test]
async fn plaintext_off_loopback_and_readable_keys_are_refused() {
    let pki = pki();
    let setup = setup(&pki);
    // Checked before anything binds.
    let plain = Config {
        listen: "0.0.0.0:0".parse().unwrap(),
        tls_cert: PathBuf::new(),
        tls_key: PathBuf::new(),
        tls_client_ca: PathBuf::new(),
        client_cert_roles: Vec::new(),
        ..setup.config.clone()
    };
    let refused = credit_server::serve(ServeOptions { config: plain, demo: false }, async {}).await.unwrap_err();
    assert!(refused.to_string().contains("listen") && refused.to_string().contains("TLS"), "{refused}");

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&setup.config.tls_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = credit_server::serve(ServeOptions { config: setup.config.clone(), demo: false }, async {}).await;
    let refused = refused.unwrap_err().to_string();
    assert!(refused.contains("server.key") && refused.contains("chmod 600"), "{refused}");
}

mod pki {
    /// A CA certificate that signed nothing here.
    pub fn other_ca() -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem()
    }
}
