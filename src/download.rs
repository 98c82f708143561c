//! `GET /text-to-sound-result/{run_id}`: the audio, streamed to a sink in chunks or
//! saved to a file that appears complete or not at all.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cancel::CancelToken;
use crate::client::{Client, Failure, Method, Plan};
use crate::error::{Error, ErrorKind};
use crate::http::HttpError;
use crate::http::transport::Request;

/// Bytes handed to the sink at a time.
const CHUNK_SIZE: usize = 64 << 10;
/// WAV sizes are 32-bit: nothing legitimate is larger.
const MAX_AUDIO_BYTES: u64 = 4 << 30;
/// Bytes of the target's name kept in the temporary file's name, so that the
/// temporary name stays within NAME_MAX (255) whatever the target's length.
const MAX_NAME_IN_TEMP: usize = 200;

impl Client {
    /// Streams the audio of a successful run to `sink`, chunk by chunk, and returns
    /// the number of bytes delivered. Retried like any read until the first byte
    /// reaches the sink; after that a failure is reported (the sink has partial data).
    /// `sink` returning an error stops the download with that error. The client's
    /// timeout bounds the whole download, the sink's own time included.
    pub fn download_result(
        &self,
        run_id: i64,
        cancel: Option<&CancelToken>,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let target = format!(
            "{}/text-to-sound-result/{run_id}?output_type=RAW_BYTES",
            self.base_path()
        );
        let request = Request {
            method: Method::Get,
            target: &target,
            accept: "*/*",
            body: None,
            idempotent: true,
        };
        let plan = Plan {
            cancel,
            ..Plan::new(true)
        };
        let cancelled = || cancel.is_some_and(CancelToken::is_cancelled);
        self.with_retries(&plan, |deadline| {
            let mut response = self.send_once(&request, deadline)?;
            let content_type = response.head.content_type.as_deref().unwrap_or("");
            if content_type.starts_with("application/json") {
                return Err(Failure::not_retryable(Error::bad_response(
                    "expected the audio bytes but the server sent JSON",
                )));
            }
            if response
                .declared_length()
                .is_some_and(|n| n > MAX_AUDIO_BYTES)
            {
                let too_large = HttpError::BodyTooLarge(MAX_AUDIO_BYTES);
                return Err(self.transport_failure(too_large));
            }
            let mut buffer = vec![0u8; CHUNK_SIZE];
            let mut delivered: u64 = 0;
            // Each chunk is filled before it is handed over: the sink sees full
            // 64 KiB chunks and a shorter last one, however the bytes arrive.
            let mut filled = 0;
            let mut ended = false;
            while !ended {
                if cancelled() {
                    return Err(Failure::not_retryable(Error::new(
                        ErrorKind::Cancelled,
                        format!("the download was cancelled after {delivered} bytes"),
                    )));
                }
                match response.read(&mut buffer[filled..]) {
                    Ok(0) => ended = true,
                    Ok(read) => filled += read,
                    Err(e) => {
                        let mut failure = self.transport_failure(e);
                        failure.error = failure
                            .error
                            .context(&format!("after {delivered} bytes of audio"));
                        // Bytes already delivered cannot be taken back.
                        failure.final_failure |= delivered > 0;
                        return Err(failure);
                    }
                }
                if filled == 0 || (filled < CHUNK_SIZE && !ended) {
                    continue;
                }
                if delivered + filled as u64 > MAX_AUDIO_BYTES {
                    let too_large = HttpError::BodyTooLarge(MAX_AUDIO_BYTES);
                    return Err(self.transport_failure(too_large));
                }
                sink(&buffer[..filled]).map_err(Failure::not_retryable)?;
                delivered += filled as u64;
                filled = 0;
            }
            Ok(delivered)
        })
    }

    /// Saves the audio of a successful run to `path`. The bytes go to a temporary
    /// file in the same directory, which is flushed to disk and then renamed over
    /// `path` (and the directory flushed, so the new name survives a crash); on any
    /// failure, a panic included, it is removed, so `path` is never left partial.
    pub fn save_result(
        &self,
        run_id: i64,
        path: &Path,
        cancel: Option<&CancelToken>,
    ) -> Result<u64, Error> {
        let temp = TempFile::create_beside(path)?;
        let mut file = &temp.file;
        let written = self.download_result(run_id, cancel, &mut |chunk| {
            file.write_all(chunk)
                .map_err(|e| io_error(&format!("cannot write {}", temp.path.display()), &e))
        })?;
        temp.file
            .sync_all()
            .map_err(|e| io_error(&format!("cannot flush {}", temp.path.display()), &e))?;
        temp.persist(path)?;
        Ok(written)
    }
}

/// A temporary file that is removed when dropped, unless persisted.
struct TempFile {
    file: File,
    path: PathBuf,
    persisted: bool,
}

impl TempFile {
    /// `dir/.name.<pid>.<n>.part`: beside the target (so the rename stays on one
    /// file system), hidden, unique within and across processes.
    fn create_beside(target: &Path) -> Result<TempFile, Error> {
        // A name left by a killed process with the same pid (common in containers)
        // is skipped, not an error.
        let mut attempts = 0;
        loop {
            let path = temporary_path_for(target)?;
            match File::options().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(TempFile {
                        file,
                        path,
                        persisted: false,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempts < 16 => {
                    attempts += 1;
                }
                Err(e) => return Err(io_error(&format!("cannot create {}", path.display()), &e)),
            }
        }
    }

    /// Renames the file to `target` and flushes the directory entry.
    fn persist(mut self, target: &Path) -> Result<(), Error> {
        fs::rename(&self.path, target).map_err(|e| {
            io_error(
                &format!("cannot rename the download to {}", target.display()),
                &e,
            )
        })?;
        self.persisted = true;
        #[cfg(unix)]
        {
            let dir = match target.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir,
                _ => Path::new("."),
            };
            // Best effort: the data itself was synced; some file systems refuse this.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn io_error(what: &str, error: &std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{what}: {error}"))
}

/// Numbers the temporary files of this process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

fn temporary_path_for(path: &Path) -> Result<PathBuf, Error> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid(format!("{} does not name a file", path.display())))?;
    let name = name.as_encoded_bytes();
    let kept = &name[..name.len().min(MAX_NAME_IN_TEMP)];
    let mut temp_name = Vec::with_capacity(kept.len() + 40);
    temp_name.push(b'.');
    temp_name.extend_from_slice(kept);
    temp_name.extend_from_slice(
        format!(
            ".{}.{}.part",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
        .as_bytes(),
    );
    // Kept as bytes: a Unix file name need not be UTF-8, and cutting may split a
    // character; either way the OS takes the bytes as they are.
    #[cfg(unix)]
    let temp_name = {
        use std::os::unix::ffi::OsStringExt;
        std::ffi::OsString::from_vec(temp_name)
    };
    #[cfg(not(unix))]
    let temp_name = String::from_utf8_lossy(&temp_name).into_owned();
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

    #[test]
    fn a_long_name_still_gives_a_valid_temporary_name() {
        let long = "x".repeat(250) + ".wav";
        let temp = temporary_path_for(Path::new(&long)).unwrap();
        assert!(temp.file_name().unwrap().len() <= 255, "{}", temp.display());
    }

    #[cfg(unix)]
    #[test]
    fn a_non_utf8_name_keeps_its_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let mut name = vec![0xe9u8; 90];
        name.extend_from_slice(b".wav");
        let target = Path::new(std::ffi::OsStr::from_bytes(&name));
        let temp = temporary_path_for(target).unwrap();
        assert!(temp.file_name().unwrap().as_bytes()[1..].starts_with(&name[..]));
        assert!(temp.file_name().unwrap().len() <= 255);
    }

    #[test]
    fn a_stale_temporary_name_is_skipped() {
        let dir = std::env::temp_dir().join(format!("camb-stale-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("s.wav");
        // Occupy the next few names this process would use.
        let next = COUNTER.load(Ordering::Relaxed);
        for n in next..next + 3 {
            let name = format!(".s.wav.{}.{n}.part", std::process::id());
            fs::write(dir.join(name), b"stale").unwrap();
        }
        let temp = TempFile::create_beside(&target).unwrap();
        temp.persist(&target).unwrap();
        assert!(target.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_dropped_temporary_file_is_removed() {
        let dir = std::env::temp_dir().join(format!("camb-temp-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("t.wav");
        let temp = TempFile::create_beside(&target).unwrap();
        let temp_path = temp.path.clone();
        assert!(temp_path.exists());
        drop(temp);
        assert!(!temp_path.exists());
        let temp = TempFile::create_beside(&target).unwrap();
        temp.persist(&target).unwrap();
        assert!(target.exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}
