//! A scripted HTTP "server" on raw sockets, for the hostile-server tests.
//!
//! It speaks just enough HTTP to read a request head; everything it sends is the
//! exact bytes a test script writes, so it can misbehave in ways a real HTTP
//! library would refuse to (slow bytes, truncated bodies, resets, garbage).
//! It only ever binds 127.0.0.1, and it stops (waking every blocked connection)
//! when dropped.
#![allow(dead_code)] // not every test uses every helper

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Longest request head accepted; the client's are a few hundred bytes.
const MAX_HEAD: usize = 64 << 10;

/// What a connection's script does; it gets the connection and returns when done.
/// An `Err` (the client hung up) is the normal end of many scripts and is ignored.
pub type Script = dyn Fn(&mut Conn) -> io::Result<()> + Send + Sync + 'static;

/// A request head as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request line, e.g. `GET /text-to-sound/x HTTP/1.1`.
    pub line: String,
    /// Header names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// 0-based index of this request among all requests the server has read.
    pub number: usize,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Something the server noticed, sent to the test as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A script sent a note (`Conn::notify`).
    Note(&'static str),
}

#[derive(Default)]
struct Shared {
    stopping: AtomicBool,
    connections: AtomicUsize,
    requests: AtomicUsize,
    bytes_written: AtomicU64,
    heads: Mutex<Vec<Request>>,
    /// Clones of every accepted stream, shut down on drop to wake blocked scripts.
    streams: Mutex<Vec<TcpStream>>,
    /// Connections whose script has returned, with a condition to wait on.
    finished: Mutex<usize>,
    finished_changed: Condvar,
    events: Mutex<Option<Sender<Event>>>,
}

/// A listening scripted server. Dropping it stops it and joins its threads.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
    events: Mutex<Receiver<Event>>,
}

impl Server {
    /// Runs `script` on every accepted connection, each on its own thread.
    pub fn start(script: impl Fn(&mut Conn) -> io::Result<()> + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(Some(tx)),
            ..Shared::default()
        });
        let workers = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let acceptor = {
            let shared = Arc::clone(&shared);
            let workers = Arc::clone(&workers);
            thread::spawn(move || accept_loop(listener, shared, workers, script))
        };
        Server {
            addr,
            shared,
            acceptor: Some(acceptor),
            workers,
            events: Mutex::new(rx),
        }
    }

    /// Answers the n-th request (counted over all connections) with `replies[n]`,
    /// the last one repeating; connections are kept alive between requests.
    pub fn replies<B: Into<Vec<u8>>>(replies: impl IntoIterator<Item = B>) -> Server {
        let replies: Vec<Vec<u8>> = replies.into_iter().map(Into::into).collect();
        assert!(!replies.is_empty());
        Server::start(move |conn| {
            while let Some(request) = conn.read_request()? {
                let reply = &replies[request.number.min(replies.len() - 1)];
                conn.write(reply)?;
            }
            Ok(())
        })
    }

    /// One reply, sent to every request.
    pub fn reply(reply: impl Into<Vec<u8>>) -> Server {
        Server::replies([reply.into()])
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Complete request heads read so far (the attempts the client made).
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Every request head read so far.
    pub fn heads(&self) -> Vec<Request> {
        self.shared.heads.lock().unwrap().clone()
    }

    /// Bytes the scripts managed to write (accepted by the kernel).
    pub fn bytes_written(&self) -> u64 {
        self.shared.bytes_written.load(Ordering::SeqCst)
    }

    /// Waits until `n` connection scripts have returned; false if `limit` passed first.
    pub fn wait_finished(&self, n: usize, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        let mut finished = self.shared.finished.lock().unwrap();
        while *finished < n {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            finished = self
                .shared
                .finished_changed
                .wait_timeout(finished, left)
                .unwrap()
                .0;
        }
        true
    }

    /// The next event a script sent, waiting up to `limit`.
    pub fn next_event(&self, limit: Duration) -> Option<Event> {
        self.events.lock().unwrap().recv_timeout(limit).ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept() with a connection of our own.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // Wake every script blocked on its socket; their reads and writes now fail.
        for stream in self.shared.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let workers: Vec<_> = self.workers.lock().unwrap().drain(..).collect();
        for worker in workers {
            let _ = worker.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
    script: Arc<Script>,
) {
    for (index, stream) in listener.incoming().enumerate() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            shared.streams.lock().unwrap().push(clone);
        }
        let shared = Arc::clone(&shared);
        let script = Arc::clone(&script);
        let worker = thread::spawn(move || {
            let mut conn = Conn {
                stream: Some(stream),
                index,
                buffered: Vec::new(),
                shared: Arc::clone(&shared),
            };
            let _ = script(&mut conn);
            drop(conn);
            *shared.finished.lock().unwrap() += 1;
            shared.finished_changed.notify_all();
        });
        workers.lock().unwrap().push(worker);
    }
}

/// One accepted connection, as a script sees it.
pub struct Conn {
    stream: Option<TcpStream>,
    /// 0-based index of this connection among all the server accepted.
    pub index: usize,
    buffered: Vec<u8>,
    shared: Arc<Shared>,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection already closed")
}

impl Conn {
    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        self.stream.as_mut().ok_or_else(gone)
    }

    /// Reads one request head (up to the blank line). `None` when the client closed
    /// the connection cleanly before sending another request.
    pub fn read_request(&mut self) -> io::Result<Option<Request>> {
        loop {
            if let Some(end) = find(&self.buffered, b"\r\n\r\n") {
                let head: Vec<u8> = self.buffered.drain(..end + 4).collect();
                let request = self.record(&head);
                // A GET has no body; skip one if a Content-Length says otherwise.
                let body_len: usize = request
                    .header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while self.buffered.len() < body_len {
                    if self.fill()? == 0 {
                        break;
                    }
                }
                let take = body_len.min(self.buffered.len());
                self.buffered.drain(..take);
                return Ok(Some(request));
            }
            if self.buffered.len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "head too big"));
            }
            if self.fill()? == 0 {
                return Ok(None);
            }
        }
    }

    /// Like `read_request`, but a clean close is an error (the script expected a request).
    pub fn expect_request(&mut self) -> io::Result<Request> {
        self.read_request()?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no request"))
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 4096];
        let n = self.stream()?.read(&mut chunk)?;
        self.buffered.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    fn record(&mut self, head: &[u8]) -> Request {
        let text = String::from_utf8_lossy(head);
        let mut lines = text.split("\r\n");
        let line = lines.next().unwrap_or_default().to_owned();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        // Count and record under one lock so that `number` matches the order.
        let mut heads = self.shared.heads.lock().unwrap();
        let number = self.shared.requests.fetch_add(1, Ordering::SeqCst);
        let request = Request {
            line,
            headers,
            number,
        };
        heads.push(request.clone());
        request
    }

    /// Writes all of `bytes`, counting what the kernel accepted.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let shared = Arc::clone(&self.shared);
        let stream = self.stream()?;
        let mut rest = bytes;
        while !rest.is_empty() {
            match stream.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    shared.bytes_written.fetch_add(n as u64, Ordering::SeqCst);
                    rest = &rest[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes `bytes` one at a time, `pause` before each.
    pub fn write_slowly(&mut self, bytes: &[u8], pause: Duration) -> io::Result<()> {
        for byte in bytes {
            self.pause(pause)?;
            self.write(std::slice::from_ref(byte))?;
        }
        Ok(())
    }

    /// Sleeps for `pause`, unless the server is stopping (then an error, ending the script).
    /// Scripts pace their bytes with this; tests never synchronise on it.
    pub fn pause(&self, pause: Duration) -> io::Result<()> {
        if self.shared.stopping.load(Ordering::SeqCst) {
            return Err(gone());
        }
        thread::sleep(pause);
        Ok(())
    }

    /// Blocks until the client closes the connection or the server stops, discarding
    /// whatever the client sends. For "accept and never answer".
    pub fn hold(&mut self) -> io::Result<()> {
        let mut sink = [0u8; 4096];
        loop {
            if self.stream()?.read(&mut sink)? == 0 {
                return Ok(());
            }
        }
    }

    /// Sends FIN (and stops reading): an orderly close.
    pub fn close(&mut self) {
        if let Some(stream) = self.stream.take() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Closes with RST instead of FIN (SO_LINGER with a zero timeout, then close).
    pub fn reset(&mut self) {
        if let Some(stream) = self.stream.take() {
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: a valid socket descriptor and a correctly sized linger value.
            let rc = unsafe {
                libc::setsockopt(
                    stream.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                )
            };
            assert_eq!(
                rc,
                0,
                "setsockopt(SO_LINGER): {}",
                io::Error::last_os_error()
            );
            // Drop closes the descriptor; the clone kept for Drop must not keep it open.
            self.forget_clone(&stream);
            drop(stream);
        }
    }

    /// Removes the server's wake-up clone of `stream`, so that closing `stream`
    /// really closes the socket (a clone is another descriptor for it).
    fn forget_clone(&self, stream: &TcpStream) {
        let peer = stream.peer_addr().ok();
        let local = stream.local_addr().ok();
        self.shared
            .streams
            .lock()
            .unwrap()
            .retain(|s| !(s.peer_addr().ok() == peer && s.local_addr().ok() == local));
    }

    /// Shrinks the kernel's send buffer, so that bytes "written" are close to bytes
    /// the client's kernel accepted (the kernel may round the value up).
    pub fn set_send_buffer(&mut self, bytes: usize) -> io::Result<()> {
        let fd = self.stream()?.as_raw_fd();
        let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: a valid socket descriptor and a correctly sized int value.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Sends an event to the test.
    pub fn notify(&self, note: &'static str) {
        if let Some(tx) = self.shared.events.lock().unwrap().as_ref() {
            let _ = tx.send(Event::Note(note));
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            // An explicit shutdown: the wake-up clone would otherwise keep it open.
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `HTTP/1.1 {status}` with `headers`, a Content-Length and `body`.
pub fn response(status: &str, headers: &[(&str, &str)], body: impl AsRef<[u8]>) -> Vec<u8> {
    let body = body.as_ref();
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A 200 with a JSON body.
pub fn json_ok(body: impl AsRef<[u8]>) -> Vec<u8> {
    response("200 OK", &[("Content-Type", "application/json")], body)
}
