//! `POST /tts-stream` on the wire: the request, its retries (only where the
//! server cannot have started the paid work), and the audio handed over as it
//! arrives, with a cut stream reported as the error it is. Saving a stream to a
//! file, with a WAV's sizes made right.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::cancel::CancelToken;
use crate::client::{Client, Method};
use crate::download::{io_error, save_streamed};
use crate::error::{Error, ErrorKind};
use crate::retry::Plan;
use crate::speech::{SpeechInfo, SpeechRequest, wav_header};
use crate::transport::{Request, error_from_body_read};

/// The most read at a time: a chunk is handed over as soon as it arrives,
/// whatever its size, up to this.
const READ_SIZE: usize = 64 << 10;
/// How much of the start of a WAV or FLAC stream is kept to read its header.
const MAX_HEADER_BYTES: usize = 4 << 10;

/// Receives each chunk of audio with what is known so far (its bytes included).
pub(crate) type SpeechSink<'a> = dyn FnMut(&[u8], &SpeechInfo) -> Result<(), Error> + 'a;

impl Client {
    /// Streams speech to `sink` as it arrives and returns what was learnt of the
    /// audio. Sent again only when the server cannot have begun it: the
    /// connection could not be made, or the server answered 429 or 503 (with no
    /// audio), after its `Retry-After`. Once the reply's head has come, nothing
    /// is retried. The deadline (the client's timeout) bounds the wait for the
    /// head; after that, each read is bounded by the client's timeout however
    /// long the audio lasts. `cancel` stops it between chunks. `sink` returning
    /// an error stops it with that error.
    ///
    /// A reply whose body is cut (chunked without its last chunk, shorter than
    /// its `Content-Length`, or a reset connection) is an error; one delimited
    /// by the connection's close that closes cleanly is the end of the audio.
    pub(crate) fn stream_speech(
        &self,
        request: &SpeechRequest,
        cancel: Option<&CancelToken>,
        sink: &mut SpeechSink<'_>,
    ) -> Result<SpeechInfo, Error> {
        request.validate()?;
        let url = self.url("/tts-stream");
        let body = request.to_json();
        let http = Request {
            method: Method::Post,
            url: &url,
            accept: "*/*",
            body: Some(&body),
            streaming: true,
        };
        let plan = Plan {
            cancel,
            ..Plan::new(true)
        };
        self.with_retries(&plan, &http, |budget| {
            let mut response = self
                .send_once(&http, budget)
                .map_err(retried_only_if_unstarted)?;
            // The server has answered with audio: whatever happens from here
            // is reported, never retried (it is paid work, and may have reached
            // the caller).
            let mut info = SpeechInfo::at_start(request);
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
                    .map(str::to_owned)
            };
            info.credits = header("x-credits-required").and_then(|v| v.parse().ok());
            info.content_type = header("content-type");
            if info
                .content_type
                .as_deref()
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"))
            {
                return Err(Error::bad_response(
                    "expected audio but the server sent JSON with a success status",
                )
                .into_permanent());
            }
            let mut reader = response.body_mut().as_reader();
            let mut buffer = vec![0u8; READ_SIZE];
            let mut start = Vec::new();
            loop {
                if cancel.is_some_and(CancelToken::is_cancelled) {
                    return Err(Error::new(
                        ErrorKind::Cancelled,
                        format!("the stream was cancelled after {} bytes", info.bytes),
                    )
                    .into_permanent());
                }
                let read = match reader.read(&mut buffer) {
                    // Zero bytes of audio is no speech, whatever the status said.
                    Ok(0) if info.bytes == 0 => {
                        return Err(Error::bad_response(
                            "the server answered with success but sent no audio",
                        )
                        .into_permanent());
                    }
                    Ok(0) => return Ok(info),
                    Ok(read) => read,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let error = error_from_body_read(e, budget);
                        let error = if error.kind() == ErrorKind::Timeout {
                            error.replace_message(format!(
                                "no audio arrived for {} ms (the client's timeout)",
                                budget.client_timeout().as_millis()
                            ))
                        } else {
                            error
                        };
                        return Err(error
                            .context(&format!("the stream broke after {} bytes", info.bytes))
                            .into_permanent());
                    }
                };
                let chunk = &buffer[..read];
                if info.channels == 0 && start.len() < MAX_HEADER_BYTES {
                    start.extend_from_slice(&chunk[..read.min(MAX_HEADER_BYTES - start.len())]);
                    info.learn_from_header(&start);
                }
                info.bytes += read as u64;
                sink(chunk, &info).map_err(Error::into_permanent)?;
            }
        })
    }

    /// Streams speech into `path` by the rules of a save
    /// ([`Client::save_audio_to`]): a regular file appears complete or not at
    /// all, so a stream cut short leaves what was there. A WAV file gets the
    /// sizes in its header that the server could not know when it began.
    pub(crate) fn save_speech_to(
        &self,
        request: &SpeechRequest,
        path: &Path,
        cancel: Option<&CancelToken>,
    ) -> Result<SpeechInfo, Error> {
        save_streamed(
            path,
            cancel,
            |write| self.stream_speech(request, cancel, &mut |chunk, _| write(chunk)),
            |file, info: &SpeechInfo| {
                if info.format.eq_ignore_ascii_case("wav") {
                    fix_wav_sizes(file, info.bytes)
                        .map_err(|e| io_error("cannot complete the WAV header", &e))?;
                }
                Ok(())
            },
        )
    }
}

/// Retries of a stream: only a request that never reached the server, or a
/// 429 or 503, which the server answers instead of starting the work.
fn retried_only_if_unstarted(error: Error) -> Error {
    if error.is_unsent() || matches!(error.http_status(), Some(429 | 503)) {
        error
    } else {
        error.into_permanent()
    }
}

/// Writes the RIFF size and the `data` chunk's size of the complete WAV file
/// `file` (`length` bytes), in place of the placeholders a stream starts with.
/// Sizes past 4 GiB cannot be written: they are left as they are. A file
/// whose header cannot be read as WAV is left as it is.
fn fix_wav_sizes(mut file: &File, length: u64) -> std::io::Result<()> {
    let mut start = vec![0u8; MAX_HEADER_BYTES.min(usize::try_from(length).unwrap_or(0))];
    file.seek(SeekFrom::Start(0))?;
    file.read_exact(&mut start)?;
    let Some(header) = wav_header(&start) else {
        return Ok(());
    };
    let data_start = header.data_size_at as u64 + 4;
    let sizes = (
        u32::try_from(length - 8),
        u32::try_from(length.saturating_sub(data_start)),
    );
    if let (Ok(riff), Ok(data)) = sizes {
        file.seek(SeekFrom::Start(4))?;
        file.write_all(&riff.to_le_bytes())?;
        file.seek(SeekFrom::Start(header.data_size_at as u64))?;
        file.write_all(&data.to_le_bytes())?;
    }
    file.seek(SeekFrom::End(0))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unstarted_failures_stay_retryable() {
        let unsent = Error::new(ErrorKind::Connect, "refused").into_unsent();
        assert!(!retried_only_if_unstarted(unsent).is_permanent());
        for status in [429, 503] {
            let error = Error::http(status, "later");
            assert!(!retried_only_if_unstarted(error).is_permanent(), "{status}");
        }
        for status in [500, 502, 504, 408] {
            let error = Error::http(status, "failed");
            assert!(retried_only_if_unstarted(error).is_permanent(), "{status}");
        }
        let reset = Error::new(ErrorKind::Connect, "reset while waiting for the reply");
        assert!(retried_only_if_unstarted(reset).is_permanent());
    }

    #[test]
    fn a_streamed_wav_gets_its_sizes() {
        let dir = std::env::temp_dir().join(format!("camb-wav-fix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.wav");
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00");
        wav.extend_from_slice(&22_050u32.to_le_bytes());
        wav.extend_from_slice(&44_100u32.to_le_bytes());
        wav.extend_from_slice(b"\x02\x00\x10\x00data\xff\xff\xff\xff");
        wav.extend_from_slice(&[7u8; 1000]);
        std::fs::write(&path, &wav).unwrap();
        let file = File::options().read(true).write(true).open(&path).unwrap();
        fix_wav_sizes(&file, wav.len() as u64).unwrap();
        let fixed = std::fs::read(&path).unwrap();
        assert_eq!(&fixed[4..8], &(wav.len() as u32 - 8).to_le_bytes());
        assert_eq!(&fixed[40..44], &1000u32.to_le_bytes());
        assert_eq!(&fixed[44..], &wav[44..]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
