//! `GET /text-to-sound-result/{run_id}`: the audio, streamed to a sink in chunks or
//! saved to a path: a regular file there appears complete or not at all; a device or
//! a FIFO is written in place (src/destination.rs decides which).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::cancel::CancelToken;
use crate::client::{Client, Method};
use crate::destination::Destination;
use crate::error::{Error, ErrorKind};
use crate::retry::Plan;
use crate::transport::{Request, error_from_body_read};

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
    /// timeout bounds the whole download, the sink's own time included. The
    /// request of [`Client::download_audio`] and of every save.
    pub(crate) fn stream_audio(
        &self,
        run_id: i64,
        cancel: Option<&CancelToken>,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let url = self.url(&format!(
            "/text-to-sound-result/{run_id}?output_type=RAW_BYTES"
        ));
        let request = Request {
            method: Method::Get,
            url: &url,
            accept: "*/*",
            body: None,
            streaming: false,
        };
        let plan = Plan {
            cancel,
            ..Plan::new(true)
        };
        let cancelled = || cancel.is_some_and(CancelToken::is_cancelled);
        let too_large = || {
            Error::bad_response(format!(
                "the audio is larger than its {MAX_AUDIO_BYTES}-byte limit"
            ))
            .into_permanent()
        };
        self.with_retries(&plan, &request, |budget| {
            let mut response = self.send_once(&request, budget)?;
            let body = response.body_mut();
            if body
                .mime_type()
                .is_some_and(|t| t.eq_ignore_ascii_case("application/json"))
            {
                return Err(Error::bad_response(
                    "expected the audio bytes but the server sent JSON",
                )
                .into_permanent());
            }
            if body.content_length().is_some_and(|n| n > MAX_AUDIO_BYTES) {
                return Err(too_large());
            }
            let mut reader = body.as_reader();
            let mut buffer = vec![0u8; CHUNK_SIZE];
            let mut delivered: u64 = 0;
            // Each chunk is filled before it is handed over: the sink sees full
            // 64 KiB chunks and a shorter last one, however the bytes arrive.
            let mut filled = 0;
            let mut ended = false;
            while !ended {
                if cancelled() {
                    return Err(Error::new(
                        ErrorKind::Cancelled,
                        format!("the download was cancelled after {delivered} bytes"),
                    )
                    .into_permanent());
                }
                match reader.read(&mut buffer[filled..]) {
                    Ok(0) => ended = true,
                    Ok(read) => filled += read,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        // What arrived, not what the sink got: the last chunk
                        // may be partly filled.
                        let received = delivered + filled as u64;
                        let error = error_from_body_read(e, budget)
                            .context(&format!("after {received} bytes of audio"));
                        // Bytes already delivered cannot be taken back.
                        return Err(if delivered > 0 {
                            error.into_permanent()
                        } else {
                            error
                        });
                    }
                }
                if filled == 0 || (filled < CHUNK_SIZE && !ended) {
                    continue;
                }
                if delivered + filled as u64 > MAX_AUDIO_BYTES {
                    return Err(too_large());
                }
                sink(&buffer[..filled]).map_err(Error::into_permanent)?;
                delivered += filled as u64;
                filled = 0;
            }
            Ok(delivered)
        })
    }

    /// Saves the audio of a successful run to `path`, following any symlinks to
    /// the file at their end (a relative target is relative to its link's
    /// directory), as `curl -o` would write it:
    /// - a regular file there, or none, is replaced atomically: the bytes go to a
    ///   temporary file in that file's directory, flushed to disk and renamed over
    ///   it (and the directory flushed); on any failure, a panic included, the
    ///   temporary file is removed and the file is untouched, never left partial;
    ///   a replaced file keeps its permissions and, where allowed, its owner, and
    ///   a new one gets `0666 & ~umask`;
    /// - a device or a FIFO is written in place; a FIFO needs a reader (one is
    ///   waited for up to a second), and a failure may leave part of the audio
    ///   written to it;
    /// - a directory, a socket, a symlink loop, or a parent directory that does
    ///   not exist or cannot be written to is refused with an `Io` error before
    ///   anything is downloaded.
    ///
    /// The links themselves are never replaced. The request of
    /// [`Client::save_audio`] and of a generation's save.
    pub(crate) fn save_audio_to(
        &self,
        run_id: i64,
        path: &Path,
        cancel: Option<&CancelToken>,
    ) -> Result<u64, Error> {
        save_streamed(
            path,
            cancel,
            |sink| self.stream_audio(run_id, cancel, sink),
            |_, _| Ok(()),
        )
    }
}

/// Saves what `stream` hands its sink to `path`, by the rules of
/// [`Client::save_audio_to`]. A file that is replaced gets the bytes in a
/// temporary file beside it, which `finish` may amend once it is complete (a
/// streamed WAV's sizes), before it is flushed and renamed over the target. A
/// device or a FIFO is written in place, and `finish` is not called. The
/// stream of every save: a run's audio, a speech stream.
pub(crate) fn save_streamed<T>(
    path: &Path,
    cancel: Option<&CancelToken>,
    stream: impl FnOnce(&mut dyn FnMut(&[u8]) -> Result<(), Error>) -> Result<T, Error>,
    finish: impl FnOnce(&File, &T) -> Result<(), Error>,
) -> Result<T, Error> {
    match Destination::of(path, cancel)? {
        Destination::Replace(target) => {
            // Created before the request: a directory that cannot be written to
            // fails the save before anything is downloaded.
            let temp = TempFile::create_beside(&target)?;
            temp.keep_access_of(&target)?;
            let mut file = &temp.file;
            let outcome = stream(&mut |chunk| {
                file.write_all(chunk)
                    .map_err(|e| io_error(&format!("cannot write {}", temp.path.display()), &e))
            })?;
            finish(&temp.file, &outcome)?;
            temp.file
                .sync_all()
                .map_err(|e| io_error(&format!("cannot flush {}", temp.path.display()), &e))?;
            temp.persist(&target)?;
            Ok(outcome)
        }
        #[cfg(unix)]
        Destination::InPlace(out) => stream(&mut |chunk| out.write(chunk)),
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
            match File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
            {
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

    /// Gives the file the permissions (and, where allowed, the owner) of the
    /// regular file at `target` that it will replace, as `cp` over a file or an
    /// editor's save keeps them: a private file stays private, from before the
    /// first byte is written. With nothing at `target` the file keeps what it was
    /// created with, `0666 & ~umask`.
    #[cfg(unix)]
    fn keep_access_of(&self, target: &Path) -> Result<(), Error> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let Ok(replaced) = fs::metadata(target) else {
            return Ok(());
        };
        if !replaced.is_file() {
            return Ok(());
        }
        let own = self
            .file
            .metadata()
            .map_err(|e| io_error(&format!("cannot inspect {}", self.path.display()), &e))?;
        if (own.uid(), own.gid()) != (replaced.uid(), replaced.gid()) {
            // Best effort, before the mode (a change of owner may clear bits):
            // only root may give a file away, and only to a group of one's own.
            let _ =
                std::os::unix::fs::fchown(&self.file, Some(replaced.uid()), Some(replaced.gid()));
        }
        // The permission bits and the sticky bit; never set-user-ID or
        // set-group-ID, which a write to the old file would have cleared too.
        let mode = replaced.mode() & 0o1777;
        self.file
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| {
                io_error(
                    &format!(
                        "cannot give {} the mode {mode:o} of the file it replaces",
                        self.path.display()
                    ),
                    &e,
                )
            })
    }

    #[cfg(not(unix))]
    fn keep_access_of(&self, _target: &Path) -> Result<(), Error> {
        Ok(())
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

pub(crate) fn io_error(what: &str, error: &std::io::Error) -> Error {
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
