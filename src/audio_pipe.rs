//! The audio of a streaming job, between the pool thread that receives it and
//! the caller's thread that reads it: a bounded buffer. When the reader falls
//! behind, the writer waits for room (and so stops reading the socket, and the
//! server's sending slows to the reader's pace): memory stays bounded however
//! slow the reader and however long the audio.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::cancel::CancelToken;
use crate::engine::DataSignal;
use crate::error::{Error, ErrorKind};
use crate::speech::SpeechInfo;

/// Audio held for the reader at most: about 2.7 s of 48 kHz 16-bit mono, far
/// more than one network read, so a reader that keeps up never makes the
/// writer wait.
pub(crate) const PIPE_CAPACITY: usize = 256 << 10;
/// How often a writer waiting for room looks whether it was cancelled or its
/// queue freed (a read wakes it at once).
const RECHECK: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
pub(crate) struct AudioPipe {
    state: Mutex<PipeState>,
    /// Signalled when the reader makes room.
    room: Condvar,
}

#[derive(Debug, Default)]
struct PipeState {
    buffer: VecDeque<u8>,
    /// What is known of the audio, as of the last byte written.
    info: SpeechInfo,
    /// A data event is on the queue and not yet taken: no other is put.
    event_pending: bool,
}

impl AudioPipe {
    /// Puts `chunk` in the buffer, waiting for room as long as the reader needs
    /// (or until `cancel`, or until nobody can read it any more), and tells the
    /// reader through `signal` when there is new data and no event is already
    /// waiting for it.
    pub(crate) fn write(
        &self,
        chunk: &[u8],
        info: &SpeechInfo,
        cancel: &CancelToken,
        signal: &dyn DataSignal,
    ) -> Result<(), Error> {
        let mut rest = chunk;
        while !rest.is_empty() {
            let mut state = self.lock();
            let room = PIPE_CAPACITY.saturating_sub(state.buffer.len());
            if room == 0 {
                if cancel.is_cancelled() {
                    return Err(Error::new(
                        ErrorKind::Cancelled,
                        format!("the stream was cancelled after {} bytes", state.info.bytes),
                    ));
                }
                if !signal.wanted() {
                    return Err(Error::new(
                        ErrorKind::Cancelled,
                        "the job's queue was freed while its audio waited to be read",
                    ));
                }
                drop(self.wait_for_room(state));
                continue;
            }
            let (now, later) = rest.split_at(room.min(rest.len()));
            state.buffer.extend(now);
            // The bytes the reader can have read so far, with what was known
            // when they came (in place: no allocation per chunk).
            state.info.update_from(info);
            state.info.bytes = info.bytes - later.len() as u64;
            let tell = !state.event_pending;
            state.event_pending = true;
            drop(state);
            if tell {
                signal.ready();
            }
            rest = later;
        }
        Ok(())
    }

    /// Moves up to `into.len()` bytes to `into`; 0 when there are none now.
    pub(crate) fn read(&self, into: &mut [u8]) -> usize {
        let mut state = self.lock();
        let count = into.len().min(state.buffer.len());
        let (first, second) = state.buffer.as_slices();
        let from_first = count.min(first.len());
        into[..from_first].copy_from_slice(&first[..from_first]);
        into[from_first..count].copy_from_slice(&second[..count - from_first]);
        state.buffer.drain(..count);
        drop(state);
        if count > 0 {
            self.room.notify_all();
        }
        count
    }

    /// The data event was taken from the queue: the next write puts another.
    pub(crate) fn event_taken(&self) {
        self.lock().event_pending = false;
    }

    /// Bytes waiting to be read.
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.lock().buffer.len()
    }

    /// What is known of the audio so far.
    pub(crate) fn info(&self) -> SpeechInfo {
        self.lock().info.clone()
    }

    /// Records what is known before (or without) any audio.
    pub(crate) fn set_info(&self, info: &SpeechInfo) {
        self.lock().info = info.clone();
    }

    fn wait_for_room<'a>(&self, state: MutexGuard<'a, PipeState>) -> MutexGuard<'a, PipeState> {
        match self.room.wait_timeout(state, RECHECK) {
            Ok((state, _)) => state,
            Err(poisoned) => poisoned.into_inner().0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, PipeState> {
        // Every change leaves the state whole: a panic cannot break it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Default)]
    struct Signals {
        ready: AtomicUsize,
        unwanted: std::sync::atomic::AtomicBool,
    }

    impl DataSignal for Signals {
        fn ready(&self) {
            self.ready.fetch_add(1, Ordering::SeqCst);
        }
        fn wanted(&self) -> bool {
            !self.unwanted.load(Ordering::SeqCst)
        }
    }

    fn info(bytes: u64) -> SpeechInfo {
        SpeechInfo {
            bytes,
            ..SpeechInfo::default()
        }
    }

    #[test]
    fn one_event_until_it_is_taken() {
        let pipe = AudioPipe::default();
        let signals = Signals::default();
        let cancel = CancelToken::new();
        pipe.write(b"abc", &info(3), &cancel, &signals).unwrap();
        pipe.write(b"def", &info(6), &cancel, &signals).unwrap();
        assert_eq!(signals.ready.load(Ordering::SeqCst), 1);
        pipe.event_taken();
        pipe.write(b"g", &info(7), &cancel, &signals).unwrap();
        assert_eq!(signals.ready.load(Ordering::SeqCst), 2);
        let mut out = [0u8; 5];
        assert_eq!(pipe.read(&mut out), 5);
        assert_eq!(&out, b"abcde");
        assert_eq!(pipe.read(&mut out), 2);
        assert_eq!(&out[..2], b"fg");
        assert_eq!(pipe.read(&mut out), 0);
        assert_eq!(pipe.info().bytes, 7);
    }

    #[test]
    fn a_full_pipe_holds_the_writer_until_read() {
        let pipe = Arc::new(AudioPipe::default());
        let signals = Arc::new(Signals::default());
        let cancel = CancelToken::new();
        let writer = {
            let (pipe, signals, cancel) = (Arc::clone(&pipe), Arc::clone(&signals), cancel.clone());
            std::thread::spawn(move || {
                let chunk = vec![1u8; PIPE_CAPACITY];
                for round in 1..=3u64 {
                    let bytes = round * PIPE_CAPACITY as u64;
                    pipe.write(&chunk, &info(bytes), &cancel, &*signals)
                        .unwrap();
                }
            })
        };
        let mut total = 0;
        let mut out = vec![0u8; 4096];
        while total < 3 * PIPE_CAPACITY {
            assert!(pipe.buffered() <= PIPE_CAPACITY);
            let read = pipe.read(&mut out);
            if read == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            total += read;
        }
        writer.join().unwrap();
        assert_eq!(total, 3 * PIPE_CAPACITY);
    }

    #[test]
    fn a_waiting_writer_stops_when_cancelled_or_unwanted() {
        for unwanted in [false, true] {
            let pipe = Arc::new(AudioPipe::default());
            let signals = Arc::new(Signals::default());
            let cancel = CancelToken::new();
            let full = vec![0u8; PIPE_CAPACITY];
            pipe.write(&full, &info(full.len() as u64), &cancel, &*signals)
                .unwrap();
            let writer = {
                let (pipe, signals, cancel) =
                    (Arc::clone(&pipe), Arc::clone(&signals), cancel.clone());
                std::thread::spawn(move || pipe.write(b"more", &info(4), &cancel, &*signals))
            };
            std::thread::sleep(Duration::from_millis(50));
            if unwanted {
                signals.unwanted.store(true, Ordering::SeqCst);
            } else {
                cancel.cancel();
            }
            let error = writer.join().unwrap().unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
        }
    }
}
