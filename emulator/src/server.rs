//! The running server: router assembly and the `Emulator` handle that owns its thread.

use std::future::IntoFuture;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::sync::oneshot;

use crate::config::Config;
use crate::state::Shared;
use crate::types::{Fault, Stats, TaskSpec, TtsStream};
use crate::{control, middleware, routes, tts};

/// A running emulator. Dropping it stops the server: the thread is joined, open
/// connections are closed and the port is freed.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts on `127.0.0.1` with a free port; returns once it is listening.
    pub fn start(config: Config) -> io::Result<Emulator> {
        Emulator::start_on(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// Starts on `addr`, which must be a loopback address (port 0 picks a free one).
    pub fn start_on(config: Config, addr: SocketAddr) -> io::Result<Emulator> {
        // The emulator is a test double: it must never be reachable from other machines.
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the emulator only binds loopback addresses, not {}",
                    addr.ip()
                ),
            ));
        }
        // Bind here rather than on the server thread, so errors reach the caller and the
        // port accepts connections as soon as this returns.
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("camb-emulator")
            .enable_all()
            .build()?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };

        let shared = Arc::new(Shared::new(config, format!("http://{addr}")));
        let app = router(Arc::clone(&shared));
        let counter = Arc::clone(&shared);
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("camb-emulator".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = listener.tap_io(move |tcp| {
                        // Small JSON replies must not wait for delayed ACKs.
                        let _ = tcp.set_nodelay(true);
                        counter.connection_accepted();
                    });
                    tokio::select! {
                        _ = axum::serve(listener, app).into_future() => {}
                        _ = stop => {}
                    }
                });
                // Dropping the runtime cancels every connection task, even one stalled by
                // a fault or held open by a client, so shutdown never waits on a client.
                drop(runtime);
            })?;
        Ok(Emulator {
            shared,
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Plants a task; returns its id.
    pub fn add_task(&self, spec: TaskSpec) -> String {
        self.shared.add_task(spec)
    }

    /// Queues a fault for upcoming API requests.
    pub fn push_fault(&self, fault: Fault) {
        self.shared.push_fault(fault)
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// The `/tts-stream` replies so far, as `Stats::tts_streams` lists them.
    pub fn tts_streams(&self) -> Vec<TtsStream> {
        self.shared.tts_streams()
    }

    /// Clears faults, stats (connection count included) and added tasks; keeps demo tasks.
    pub fn reset(&self) {
        self.shared.reset()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Control routes first; everything else goes to the emulated API, which records requests
/// and applies faults before anything else (auth included) sees them.
fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/text-to-sound", post(routes::create))
        .route("/text-to-sound/{task_id}", get(routes::task_status))
        .route("/text-to-sound-result/{run_id}", get(routes::result))
        .route("/text-to-sound-results", post(routes::bulk_results))
        .route("/tts-stream", post(tts::stream))
        .route("/list-voices", get(tts::voices::list))
        .route("/source-languages", get(tts::languages::list_source))
        .route("/target-languages", get(tts::languages::list_target))
        // Only the routes above need a key: unknown paths 404 and downloads are pre-signed.
        .route_layer(from_fn_with_state(
            Arc::clone(&shared),
            middleware::require_api_key,
        ))
        .route("/_emulator/files/{name}", get(routes::file))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(from_fn_with_state(
            Arc::clone(&shared),
            middleware::record_and_fault,
        ))
        .with_state(Arc::clone(&shared));
    Router::new()
        .route("/_emulator/tasks", post(control::add_task))
        .route("/_emulator/faults", post(control::push_fault))
        .route("/_emulator/stats", get(control::stats))
        .route("/_emulator/reset", post(control::reset))
        .with_state(shared)
        .fallback_service(api)
}
