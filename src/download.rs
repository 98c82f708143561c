//! `GET /text-to-sound-result/{run_id}`: the audio, streamed to a sink in chunks or
//! saved to a file that appears complete or not at all.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cancel::CancelToken;
use crate::client::{Client, Failure, Method, Plan};
use crate::error::{Error, ErrorKind};

/// Bytes handed to the sink at a time.
const CHUNK_SIZE: usize = 64 << 10;
/// WAV sizes are 32-bit: nothing legitimate is larger.
const MAX_AUDIO_BYTES: u64 = 4 << 30;

impl Client {
    /// Streams the audio of a successful run to `sink`, chunk by chunk, and returns
    /// the number of bytes delivered. Retried like any read until the first byte
    /// reaches the sink; after that a failure is reported (the sink has partial data).
    /// `sink` returning an error stops the download with that error.
    pub fn download_result(
        &self,
        run_id: i64,
        cancel: Option<&CancelToken>,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let url = format!(
            "{}/text-to-sound-result/{run_id}?output_type=RAW_BYTES",
            self.base_url()
        );
        let plan = Plan {
            cancel,
            ..Plan::idempotent()
        };
        let cancelled = || cancel.is_some_and(CancelToken::is_cancelled);
        self.with_retries(&plan, |time_left| {
            let mut response = self.send_once(Method::Get, &url, None, time_left)?;
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if content_type.starts_with("application/json") {
                return Err(Failure::from(Error::bad_response(
                    "expected the audio bytes but the server sent JSON",
                )));
            }
            let mut reader = response
                .body_mut()
                .with_config()
                .limit(MAX_AUDIO_BYTES)
                .reader();
            let mut buffer = vec![0u8; CHUNK_SIZE];
            let mut delivered: u64 = 0;
            loop {
                if cancelled() {
                    return Err(final_failure(Error::new(
                        ErrorKind::Cancelled,
                        format!("the download was cancelled after {delivered} bytes"),
                    )));
                }
                let read = match reader.read(&mut buffer) {
                    Ok(0) => return Ok(delivered),
                    Ok(read) => read,
                    Err(e) => {
                        let error = self.transport_error(ureq::Error::from(e));
                        let error = error.context(&format!("after {delivered} bytes of audio"));
                        return Err(if delivered > 0 {
                            final_failure(error)
                        } else {
                            Failure::from(error)
                        });
                    }
                };
                sink(&buffer[..read]).map_err(final_failure)?;
                delivered += read as u64;
            }
        })
    }

    /// Saves the audio of a successful run to `path`. The bytes go to a temporary
    /// file in the same directory, which is flushed to disk and then renamed over
    /// `path`; on any failure it is removed, so `path` is never left partial.
    pub fn save_result(
        &self,
        run_id: i64,
        path: &Path,
        cancel: Option<&CancelToken>,
    ) -> Result<u64, Error> {
        let temp_path = temporary_path_for(path)?;
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&temp_path)
            .map_err(|e| io_error(&format!("cannot create {}", temp_path.display()), &e))?;
        let outcome = (|| {
            let mut writer = BufWriter::with_capacity(CHUNK_SIZE, file);
            let written = self.download_result(run_id, cancel, &mut |chunk| {
                writer
                    .write_all(chunk)
                    .map_err(|e| io_error(&format!("cannot write {}", temp_path.display()), &e))
            })?;
            let file = writer.into_inner().map_err(|e| {
                io_error(&format!("cannot write {}", temp_path.display()), e.error())
            })?;
            file.sync_all()
                .map_err(|e| io_error(&format!("cannot flush {}", temp_path.display()), &e))?;
            fs::rename(&temp_path, path).map_err(|e| {
                io_error(
                    &format!("cannot rename the download to {}", path.display()),
                    &e,
                )
            })?;
            Ok(written)
        })();
        if outcome.is_err() {
            let _ = fs::remove_file(&temp_path);
        }
        outcome
    }
}

fn final_failure(error: Error) -> Failure {
    Failure {
        final_failure: true,
        ..Failure::from(error)
    }
}

fn io_error(what: &str, error: &std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{what}: {error}"))
}

/// `dir/.name.<pid>.<n>.part`: beside the target (so the rename stays on one file
/// system), hidden, and unique within and across processes.
fn temporary_path_for(path: &Path) -> Result<PathBuf, Error> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid(format!("{} does not name a file", path.display())))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(
        ".{}.{}.part",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(path.with_file_name(temp_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_files_sit_beside_the_target() {
        let temp = temporary_path_for(Path::new("/tmp/out/sound.wav")).unwrap();
        assert_eq!(temp.parent(), Some(Path::new("/tmp/out")));
        let name = temp.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with(".sound.wav.") && name.ends_with(".part"),
            "{name}"
        );
        assert_ne!(
            temporary_path_for(Path::new("a.wav")).unwrap(),
            temporary_path_for(Path::new("a.wav")).unwrap()
        );
        assert!(temporary_path_for(Path::new("/")).is_err());
        assert!(temporary_path_for(Path::new("dir/..")).is_err());
    }
}
