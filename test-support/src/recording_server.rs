//! [`RecordingServer`]: a tiny HTTP/1.1 (or HTTPS) server on 127.0.0.1 that records every
//! request it gets (method, path, headers, body) and answers with a fixed redirect or status, or
//! by passing the request on to a real server (e.g. a real `bao`). Tests assert on what it saw:
//! which headers reached the server, and that nothing reached a server it must not reach.

use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// One request as the server received it. Header names are lower case.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, e.g. `/v1/secret/data/app/K`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How the server answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `status` (e.g. 307) with `Location: {to}{request path}`, like an OpenBao standby
    /// pointing at the active node.
    Redirect { status: u16, to: String },
    /// `status` with a JSON body.
    Json { status: u16, body: String },
    /// Sends the request on to `base_url` + path (headers and body as received) and returns its
    /// answer.
    Proxy { base_url: String },
    /// Closes each connection as soon as it is accepted (over TLS: right after the handshake),
    /// reading and answering nothing: how a TLS 1.3 server that wants a client certificate can
    /// look from the client when its alert loses the race. Nothing is recorded.
    Close,
}

/// See the module docs. Stops when dropped.
pub struct RecordingServer {
    url: String,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingServer {
    /// A plain HTTP server: `http://127.0.0.1:PORT`.
    pub async fn start(reply: Reply) -> RecordingServer {
        Self::start_inner(reply, None).await
    }

    /// An HTTPS server with this certificate chain and key (PEM files): `https://127.0.0.1:PORT`.
    pub async fn start_tls(reply: Reply, cert_pem: &Path, key_pem: &Path) -> RecordingServer {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_pem)
            .expect("read cert PEM")
            .collect::<Result<_, _>>()
            .expect("parse cert PEM");
        let key = PrivateKeyDer::from_pem_file(key_pem).expect("read key PEM");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate");
        Self::start_inner(
            reply,
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        )
        .await
    }

    async fn start_inner(reply: Reply, tls: Option<tokio_rustls::TlsAcceptor>) -> RecordingServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{port}");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let reply = reply.clone();
                let recorded = recorded.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        None => serve(stream, &reply, &recorded).await,
                        Some(acceptor) => {
                            // A client that refuses our certificate ends here: nothing recorded.
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream, &reply, &recorded).await;
                            }
                        }
                    }
                });
            }
        });
        RecordingServer {
            url,
            requests,
            task,
        }
    }

    /// `http(s)://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().expect("requests lock").clone()
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request, records it, answers, closes.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    reply: &Reply,
    recorded: &Mutex<Vec<RecordedRequest>>,
) {
    if matches!(reply, Reply::Close) {
        return;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let request = RecordedRequest {
        method,
        path,
        headers,
        body,
    };
    recorded
        .lock()
        .expect("requests lock")
        .push(request.clone());
    let (status, extra, content) = match reply {
        Reply::Redirect { status, to } => (
            *status,
            format!("Location: {to}{}\r\n", request.path),
            String::new(),
        ),
        Reply::Json { status, body } => (
            *status,
            "Content-Type: application/json\r\n".to_string(),
            body.clone(),
        ),
        Reply::Proxy { base_url } => proxy(base_url, &request).await,
        Reply::Close => return,
    };
    let answer = format!(
        "HTTP/1.1 {status} X\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{content}",
        content.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn proxy(base_url: &str, request: &RecordedRequest) -> (u16, String, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("proxy client");
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("method");
    let mut req = client.request(method, format!("{base_url}{}", request.path));
    for (name, value) in &request.headers {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            req = req.header(name, value);
        }
    }
    match req.body(request.body.clone()).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            (
                status,
                "Content-Type: application/json\r\n".to_string(),
                text,
            )
        }
        Err(e) => (502, String::new(), format!("proxy: {e}")),
    }
}
