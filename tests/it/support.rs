//! A resolver serving a generated data set on 127.0.0.1:0, stopped when dropped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use permitd::catalog::Catalog;
use permitd::domain::{Date, Permit};
use permitd::gen::{generate, GenOptions};
use permitd::registry::Registry;
use permitd::server::listener::Drained;
use permitd::server::resolver::Clock;
use permitd::server::{serve, Resolver, ServeOptions};
use permitd::snapshot::build::{to_bytes_with, Rendering};
use permitd::snapshot::SnapshotFile;
use permitd::trust::keys::{PublicKey, PublicKeySet, SigningKey};
use permitd::trust::seal::Sealer;
use rkyv::util::AlignedVec;

/// The date every test data set describes and every test server evaluates at.
pub fn as_of() -> Date {
    Date::from_ymd(2026, 6, 15).unwrap()
}

/// The permits of a generated data set, folded as the snapshot builder folds them.
pub fn generated_permits(count: u64, seed: u64) -> (Vec<Permit>, u64) {
    let catalog = Catalog::embedded().unwrap();
    let mut ndjson = Vec::new();
    generate(
        &catalog,
        &GenOptions {
            permits: count,
            seed,
            as_of: as_of(),
        },
        &mut ndjson,
        &mut |_| {},
    )
    .unwrap();
    let mut registry = Registry::new(&catalog);
    let report = permitd::feed::fold(&mut registry, &ndjson[..], &mut |_| {}).unwrap();
    assert_eq!(
        report.rejected, 0,
        "generated events are all accepted: {:?}",
        report.rejections
    );
    let sequence = registry.sequence();
    (registry.into_sorted(), sequence)
}

/// The key test servers' permits are sealed with (a fixed seed: reproducible payloads).
pub fn test_key() -> SigningKey {
    SigningKey::from_seed(&[42; 32])
}

/// The public key set of [`test_key`], as a resolver serves it.
pub fn test_keys() -> PublicKeySet {
    let mut set = PublicKeySet::new();
    let from = Date::from_ymd(2020, 1, 1).unwrap();
    set.insert(PublicKey::new(test_key().verifying_key(), from, None).unwrap())
        .unwrap();
    set
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub permits: Vec<Permit>,
    pub sequence: u64,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Drained>>,
}

impl TestServer {
    /// A ready server over `count` generated permits.
    pub fn start(count: u64) -> TestServer {
        let (mut permits, sequence) = generated_permits(count, 7);
        // Sealed as `snapshot build` seals them, with the test key.
        Sealer::new(test_key()).renew_all(&mut permits, time::OffsetDateTime::now_utc());
        let catalog = Catalog::embedded().unwrap();
        let rendering = Rendering {
            catalog: &catalog,
            as_of: as_of(),
        };
        let bytes = to_bytes_with(&permits, sequence, &[], &rendering).unwrap();
        let snapshot = SnapshotFile::from_bytes(bytes).unwrap().verify().unwrap();
        let resolver = Arc::new(Resolver::new(
            Catalog::embedded().unwrap(),
            Clock::Fixed(as_of()),
        ));
        resolver.install(snapshot);
        resolver.set_public_keys(test_keys().to_jwks());
        TestServer::serving(resolver, permits, sequence)
    }

    /// A server over `resolver`, which may have no snapshot yet.
    pub fn serving(
        resolver: Arc<Resolver<AlignedVec>>,
        permits: Vec<Permit>,
        sequence: u64,
    ) -> TestServer {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let serving = resolver;
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                bound_tx.send(listener.local_addr().unwrap()).unwrap();
                let options = ServeOptions {
                    connections_max: 64,
                    header_read_timeout: Duration::from_secs(2),
                    shutdown_grace: Duration::from_secs(5),
                };
                serve(listener, serving, options, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        let addr = bound_rx.recv().unwrap();
        TestServer {
            addr,
            permits,
            sequence,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Signals shutdown and waits for the drain to finish.
    pub fn stop(mut self) -> Drained {
        self.stop.take().unwrap().send(()).ok();
        self.thread.take().unwrap().join().unwrap()
    }

    /// The first permit whose derived state (at the test date) has this code.
    pub fn find(&self, state: &str) -> &Permit {
        self.permits
            .iter()
            .find(|p| p.derived_state(None, as_of()).code() == state)
            .unwrap_or_else(|| panic!("the data set has a {state} permit"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An HTTP client that returns error statuses as responses.
pub fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent()
}

pub struct Answer {
    pub bytes: Vec<u8>,
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The stable error code of a JSON error answer.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

pub fn get(url: &str, accept: Option<&str>) -> Answer {
    let mut request = client().get(url);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    let mut response = request.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    // Images are not text: the bytes are kept, the text is their lossy reading.
    let bytes = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_vec()
        .unwrap();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    Answer {
        bytes,
        status,
        content_type,
        body,
    }
}
