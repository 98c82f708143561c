//! The `/tts-stream` reply body: rendered chunk by chunk and paced like a real
//! synthesiser (the first chunk after `Config::tts_first_chunk_ms`, the rest at
//! `Config::tts_pace` times real time), with the cut and declared-length faults built in
//! and every stream's progress recorded for `Stats::tts_streams`.
//!
//! Waits are tokio timers: a stream never holds a thread.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::render::Renderer;
use crate::body::Abort;
use crate::clock::monotonic_ns;
use crate::types::TtsStream;

/// What the stats remember of one stream, updated as it goes.
#[derive(Debug)]
pub struct Progress {
    format: &'static str,
    sample_rate: u32,
    bytes_sent: AtomicU64,
    /// 0 until the first chunk is handed over.
    first_chunk_at_ns: AtomicU64,
    completed: AtomicBool,
}

impl Progress {
    pub fn new(format: &'static str, sample_rate: u32) -> Progress {
        Progress {
            format,
            sample_rate,
            bytes_sent: AtomicU64::new(0),
            first_chunk_at_ns: AtomicU64::new(0),
            completed: AtomicBool::new(false),
        }
    }

    pub fn snapshot(&self) -> TtsStream {
        let first = self.first_chunk_at_ns.load(Ordering::SeqCst);
        TtsStream {
            format: self.format.to_string(),
            sample_rate: self.sample_rate,
            bytes_sent: self.bytes_sent.load(Ordering::SeqCst),
            first_chunk_at_ns: (first != 0).then_some(first),
            completed: self.completed.load(Ordering::SeqCst),
        }
    }
}

/// How a stream is paced.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// When the first chunk is due.
    pub first_at: Instant,
    /// 1.0 = real time, 2.0 = twice as fast, 0.0 (or less) = as fast as the socket takes it.
    pub pace: f64,
    pub sample_rate: u32,
}

impl Pacing {
    /// When the chunk starting at audio sample `sample` is due.
    fn due(&self, sample: u64) -> Instant {
        if sample == 0 || self.pace <= 0.0 || !self.pace.is_finite() {
            return self.first_at;
        }
        let audio_s = sample as f64 / f64::from(self.sample_rate);
        self.first_at + Duration::from_secs_f64(audio_s / self.pace)
    }
}

pub struct TtsBody {
    render: Renderer,
    pacing: Pacing,
    sleep: Pin<Box<Sleep>>,
    chunks: u64,
    /// The yield after the first chunk is done (see `poll_frame`).
    yielded: bool,
    sent: u64,
    /// The fault's limit on body bytes, if any.
    cut_after: Option<u64>,
    /// A chunk was shortened by the cut: what is left must not be sent.
    truncated: bool,
    /// The declared total, when a fault asked for a Content-Length.
    declared: Option<u64>,
    abort: Option<Abort>,
    done: bool,
    progress: Arc<Progress>,
}

impl TtsBody {
    pub fn new(
        render: Renderer,
        pacing: Pacing,
        cut_after: Option<u64>,
        declared: Option<u64>,
        progress: Arc<Progress>,
    ) -> TtsBody {
        TtsBody {
            render,
            sleep: Box::pin(tokio::time::sleep_until(pacing.first_at)),
            pacing,
            chunks: 0,
            yielded: false,
            sent: 0,
            cut_after,
            truncated: false,
            declared,
            abort: None,
            done: false,
            progress,
        }
    }
}

impl Body for TtsBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if this.render.finished() && !this.truncated {
            this.done = true;
            return Poll::Ready(None);
        }
        if this.abort.is_none() && this.cut_after.is_some_and(|limit| this.sent >= limit) {
            this.abort = Some(Abort::new(this.sent));
        }
        if let Some(abort) = &mut this.abort {
            let error = ready!(abort.poll(cx));
            this.done = true;
            return Poll::Ready(Some(Err(error)));
        }
        // Hyper keeps asking for frames while they are ready and writes them out
        // together; a pause right after the first chunk makes it flush that chunk on its
        // own, so a client sees the first audio as soon as it exists.
        if this.chunks == 1 && !this.yielded {
            this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let due = this.pacing.due(this.render.rendered());
        if Instant::now() < due {
            this.sleep.as_mut().reset(due);
            ready!(this.sleep.as_mut().poll(cx));
        }
        let mut chunk = match this.render.next_chunk() {
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => {
                this.done = true;
                return Poll::Ready(Some(Err(std::io::Error::other(e))));
            }
            None => {
                this.done = true;
                return Poll::Ready(None);
            }
        };
        if let Some(limit) = this.cut_after {
            let room = usize::try_from(limit - this.sent).unwrap_or(usize::MAX);
            if chunk.len() > room {
                chunk.truncate(room);
                this.truncated = true;
            }
        }
        if this.chunks == 0 {
            // Taken right before the first audio goes to hyper, for latency measurements.
            this.progress
                .first_chunk_at_ns
                .store(monotonic_ns(), Ordering::SeqCst);
        }
        this.chunks += 1;
        this.sent += chunk.len() as u64;
        this.progress.bytes_sent.store(this.sent, Ordering::SeqCst);
        if this.render.finished() && !this.truncated {
            this.progress.completed.store(true, Ordering::SeqCst);
        }
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.done || (self.render.finished() && !self.truncated && self.abort.is_none())
    }

    /// Unknown (so hyper sends it chunked) unless a fault declared the length.
    fn size_hint(&self) -> SizeHint {
        match self.declared {
            Some(total) => SizeHint::with_exact(total.saturating_sub(self.sent)),
            None => SizeHint::default(),
        }
    }
}
