//! Where `Client::save_audio` writes, and how, decided before anything is
//! downloaded: the path is followed through any symlinks to the file at their end;
//! a regular file there (or none) is replaced atomically, a device or a FIFO is
//! written in place, and anything else is refused.

use std::fs;
#[cfg(unix)]
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::cancel::CancelToken;
use crate::error::{Error, ErrorKind};

/// Symlinks followed before the path is taken for a loop: Linux's MAXSYMLINKS.
const MAX_SYMLINKS: usize = 40;

/// How long a FIFO without a reader is given to get one (a reader started just
/// before the save, `player fifo & save fifo`, may not have opened it yet).
#[cfg(unix)]
const FIFO_READER_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Where the audio goes.
#[derive(Debug)]
pub(crate) enum Destination {
    /// A regular file, or nothing yet, at this path, whose last component is not
    /// a symlink: replaced through a temporary file in its directory.
    Replace(PathBuf),
    /// A device or a FIFO, already open for writing: written in place.
    #[cfg(unix)]
    InPlace(InPlace),
}

/// What a path names, once its symlinks are followed.
enum Found {
    /// A regular file, or nothing yet (whose directory exists).
    Replaceable,
    /// A device or a FIFO.
    #[cfg(unix)]
    Node { fifo: bool },
}

impl Destination {
    /// Looks at what `path` names (through any symlinks) and refuses, without
    /// downloading anything, what cannot take the audio: a directory, a socket, a
    /// symlink loop, a missing parent directory. A FIFO or a device is opened here,
    /// so that a FIFO without a reader fails before the request too.
    pub(crate) fn of(path: &Path, cancel: Option<&CancelToken>) -> Result<Destination, Error> {
        // Only opening a FIFO (Unix) waits, and only that wait can be cancelled.
        #[cfg(not(unix))]
        let _ = cancel;
        let (end, found) = look(path)?;
        match found {
            Found::Replaceable => Ok(Destination::Replace(end)),
            #[cfg(unix)]
            Found::Node { fifo } => {
                let shown = Shown {
                    given: path,
                    end: &end,
                };
                let file = open_in_place(&end, fifo, &shown, cancel)?;
                Ok(Destination::InPlace(InPlace {
                    file,
                    path: end,
                    fifo,
                }))
            }
        }
    }

    /// Refuses what [`Destination::of`] would refuse, and a directory this
    /// process may not write to, but opens nothing and never waits: for a job
    /// that saves later (a generation), checked when it starts, so that a file
    /// that could never be saved costs no task. A FIFO is only looked at: its
    /// reader may come later. [`Destination::of`] looks again at save time.
    pub(crate) fn check(path: &Path) -> Result<(), Error> {
        let (end, found) = look(path)?;
        if matches!(found, Found::Replaceable) {
            let shown = Shown {
                given: path,
                end: &end,
            };
            check_writable_dir(directory_of(&end), &shown)?;
        }
        Ok(())
    }
}

/// Follows `path`'s symlinks and says what is at their end, refusing what
/// cannot take the audio.
fn look(path: &Path) -> Result<(PathBuf, Found), Error> {
    if path.as_os_str().is_empty() {
        return Err(Error::invalid("the path is empty"));
    }
    // Windows opens these names as devices in any directory; the metadata calls
    // below would fail with a bare OS error (87, 6) that says nothing of why.
    #[cfg(windows)]
    if let Some(name) = path.file_name().and_then(|n| n.to_str())
        && is_windows_device_name(name)
    {
        return Err(Error::new(
            ErrorKind::Io,
            format!(
                "cannot save to {}: {name} is a Windows device name (NUL, CON, COM1...), \
                 which libcamb does not write to",
                path.display()
            ),
        ));
    }
    let (end, metadata) = follow_symlinks(path)?;
    let shown = Shown {
        given: path,
        end: &end,
    };
    let Some(metadata) = metadata else {
        check_can_create(&end, &shown)?;
        return Ok((end, Found::Replaceable));
    };
    let file_type = metadata.file_type();
    if file_type.is_file() {
        return Ok((end, Found::Replaceable));
    }
    if file_type.is_dir() {
        return Err(refused(&shown, "it is a directory"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_socket() {
            return Err(refused(
                &shown,
                "it is a socket, which cannot be opened as a file",
            ));
        }
        if file_type.is_fifo() || file_type.is_char_device() || file_type.is_block_device() {
            let fifo = file_type.is_fifo();
            return Ok((end, Found::Node { fifo }));
        }
    }
    Err(refused(
        &shown,
        "it is neither a regular file, a device nor a FIFO",
    ))
}

/// Whether Windows takes a file name for a device: CON, PRN, AUX, NUL, COM1-9 or
/// LPT1-9 (also with superscript digits), in any case, with or without an
/// extension or trailing dots and spaces (`nul.wav`, `CON .txt`).
#[cfg_attr(not(windows), allow(dead_code))]
fn is_windows_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    if ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"].contains(&upper.as_str()) {
        return true;
    }
    let Some(digit) = upper
        .strip_prefix("COM")
        .or_else(|| upper.strip_prefix("LPT"))
    else {
        return false;
    };
    matches!(
        digit,
        "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "\u{b9}" | "\u{b2}" | "\u{b3}"
    )
}

/// The directory a file at `end` is in (`.` for a bare name).
fn directory_of(end: &Path) -> &Path {
    match end.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// The temporary file goes into `dir` and is renamed there: this process must
/// be allowed to write and search it (with its effective ids, as an open would
/// be checked). A read-only file system is refused here too.
#[cfg(unix)]
fn check_writable_dir(dir: &Path, shown: &Shown<'_>) -> Result<(), Error> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_dir) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return Err(Error::invalid(format!("{shown} holds a NUL byte")));
    };
    // SAFETY: a NUL-terminated path that outlives the call; no other pointer.
    let allowed = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c_dir.as_ptr(),
            libc::W_OK | libc::X_OK,
            libc::AT_EACCESS,
        )
    } == 0;
    if allowed {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    Err(io_error(
        &format!(
            "cannot save to {shown}: the directory {} cannot be written to",
            dir.display()
        ),
        &error,
    ))
}

/// Windows has no access() that weighs ACLs as an open would: a file is created
/// in `dir` and removed again, which is the question itself.
#[cfg(not(unix))]
fn check_writable_dir(dir: &Path, shown: &Shown<'_>) -> Result<(), Error> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static PROBES: AtomicU64 = AtomicU64::new(0);
    let probe = dir.join(format!(
        ".camb-probe.{}.{}",
        std::process::id(),
        PROBES.fetch_add(1, Ordering::Relaxed)
    ));
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(file) => {
            drop(file);
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(error) => Err(io_error(
            &format!(
                "cannot save to {shown}: the directory {} cannot be written to",
                dir.display()
            ),
            &error,
        )),
    }
}

/// The path as given, and where its symlinks lead, for messages.
struct Shown<'a> {
    given: &'a Path,
    end: &'a Path,
}

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.given == self.end {
            write!(f, "{}", self.given.display())
        } else {
            write!(
                f,
                "{} (where the symbolic link {} leads)",
                self.end.display(),
                self.given.display()
            )
        }
    }
}

fn refused(shown: &Shown<'_>, why: &str) -> Error {
    Error::new(ErrorKind::Io, format!("cannot save to {shown}: {why}"))
}

fn io_error(what: &str, error: &io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{what}: {error}"))
}

/// Follows `path` while its last component is a symlink, as the kernel would when
/// opening it: a relative target is taken from the link's own directory. Returns
/// the path at the end and what is there (`None`: nothing).
fn follow_symlinks(path: &Path) -> Result<(PathBuf, Option<fs::Metadata>), Error> {
    let mut current = path.to_path_buf();
    for _ in 0..=MAX_SYMLINKS {
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let target = fs::read_link(&current).map_err(|e| {
                    io_error(
                        &format!("cannot read the symbolic link {}", current.display()),
                        &e,
                    )
                })?;
                // Not normalised: `dir/../x` must go through `dir` as the kernel
                // does, which matters when `dir` is itself a symlink. An absolute
                // target replaces the whole path.
                current = match current.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            Ok(metadata) => return Ok((current, Some(metadata))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((current, None)),
            // A loop or a file among the directories of the path (ELOOP, ENOTDIR),
            // a directory that may not be searched (EACCES).
            Err(e) => {
                let shown = Shown {
                    given: path,
                    end: &current,
                };
                return Err(io_error(&format!("cannot save to {shown}"), &e));
            }
        }
    }
    Err(Error::new(
        ErrorKind::Io,
        format!(
            "cannot save to {}: more than {MAX_SYMLINKS} levels of symbolic links (a loop?)",
            path.display()
        ),
    ))
}

/// Nothing is at `end`: it can be created if its directory exists. Whether that
/// directory is writable is found out by creating the temporary file, still
/// before the request.
fn check_can_create(end: &Path, shown: &Shown<'_>) -> Result<(), Error> {
    if ends_with_separator(end) {
        return Err(Error::invalid(format!(
            "{shown} ends with a path separator and so names a directory, not a file"
        )));
    }
    let dir = directory_of(end);
    match fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err(Error::new(
            ErrorKind::Io,
            format!(
                "cannot create {shown}: {} is not a directory",
                dir.display()
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::new(
            ErrorKind::Io,
            format!(
                "cannot create {shown}: the directory {} does not exist",
                dir.display()
            ),
        )),
        Err(e) => Err(io_error(&format!("cannot create {shown}"), &e)),
    }
}

fn ends_with_separator(path: &Path) -> bool {
    let bytes = path.as_os_str().as_encoded_bytes();
    bytes
        .last()
        .is_some_and(|&b| std::path::is_separator(char::from(b)))
}

/// A device or a FIFO opened for writing.
#[cfg(unix)]
#[derive(Debug)]
pub(crate) struct InPlace {
    file: File,
    path: PathBuf,
    fifo: bool,
}

#[cfg(unix)]
impl InPlace {
    /// Writes all of `data`. A FIFO whose reader has gone gives an error, never
    /// SIGPIPE, whatever the process does with that signal.
    pub(crate) fn write(&self, data: &[u8]) -> Result<(), Error> {
        use std::io::Write;
        let result = if self.fifo {
            without_sigpipe(|| (&self.file).write_all(data))
        } else {
            (&self.file).write_all(data)
        };
        result.map_err(|e| {
            if self.fifo && e.raw_os_error() == Some(libc::EPIPE) {
                io_error(
                    &format!(
                        "cannot write to the FIFO {}: its reader closed it",
                        self.path.display()
                    ),
                    &e,
                )
            } else {
                io_error(&format!("cannot write to {}", self.path.display()), &e)
            }
        })
    }
}

/// Opens a device or a FIFO for writing, as `curl -o` does, but never blocks:
/// opening a FIFO blocks until a reader opens it too, so it is opened with
/// O_NONBLOCK, which fails at once (ENXIO) while there is no reader; that is
/// retried for `FIFO_READER_GRACE`. Opening a device never waits for it either
/// (a serial line waiting for its carrier, say).
#[cfg(unix)]
fn open_in_place(
    path: &Path,
    fifo: bool,
    shown: &Shown<'_>,
    cancel: Option<&CancelToken>,
) -> Result<File, Error> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    use std::os::unix::io::AsRawFd;
    use std::time::{Duration, Instant};

    let mut options = fs::OpenOptions::new();
    // No O_CREAT, no O_TRUNC: the node is there and is written as it is. O_NOCTTY:
    // a terminal does not become the process's controlling terminal. O_NOFOLLOW:
    // the path's last component was seen not to be a symlink; if it has become one
    // since, the open fails instead of writing elsewhere.
    options
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW);
    let give_up = Instant::now() + FIFO_READER_GRACE;
    let mut pause = Duration::from_millis(1);
    let file = loop {
        match options.open(path) {
            Ok(file) => break file,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if fifo && e.raw_os_error() == Some(libc::ENXIO) => {
                if cancel.is_some_and(CancelToken::is_cancelled) {
                    return Err(Error::new(
                        ErrorKind::Cancelled,
                        format!("cancelled while waiting for a reader of the FIFO {shown}"),
                    ));
                }
                let now = Instant::now();
                if now >= give_up {
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!(
                            "cannot write to the FIFO {shown}: no reader has it open \
                             (waited {} ms for one): {e}",
                            FIFO_READER_GRACE.as_millis()
                        ),
                    ));
                }
                std::thread::sleep(pause.min(give_up - now));
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(io_error(&format!("cannot open {shown}"), &e)),
        }
    };
    // The path may have been replaced between the look and the open.
    let file_type = file
        .metadata()
        .map_err(|e| io_error(&format!("cannot inspect {shown}"), &e))?
        .file_type();
    if !(file_type.is_fifo() || file_type.is_char_device() || file_type.is_block_device()) {
        return Err(refused(shown, "it changed while being opened"));
    }
    // From here writes wait for the reader or the device, as usual.
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function owns.
    let cleared = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) == 0
    };
    if !cleared {
        return Err(io_error(
            &format!("cannot set up {shown} for writing"),
            &io::Error::last_os_error(),
        ));
    }
    Ok(file)
}

/// Runs `write` with SIGPIPE blocked on this thread, so that a pipe without a
/// reader fails it with EPIPE instead of raising the signal, whose default action
/// kills the process (C programs and many hosts keep that default). A SIGPIPE that
/// `write` raised is then taken off the pending set before the mask is restored,
/// unless one was already pending (it is not ours to take): what libpq and
/// OpenSSL do.
#[cfg(unix)]
fn without_sigpipe(write: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
    use std::mem::MaybeUninit;
    use std::ptr;

    // SAFETY: sigset_t values are initialised by sigemptyset/sigpending before use;
    // pthread_sigmask, sigpending and sigtimedwait get valid pointers.
    unsafe {
        let mut pipe_only = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(pipe_only.as_mut_ptr());
        libc::sigaddset(pipe_only.as_mut_ptr(), libc::SIGPIPE);
        let pipe_only = pipe_only.assume_init();
        let mut previous = MaybeUninit::<libc::sigset_t>::uninit();
        if libc::pthread_sigmask(libc::SIG_BLOCK, &pipe_only, previous.as_mut_ptr()) != 0 {
            // Cannot happen with valid arguments; write anyway.
            return write();
        }
        let previous = previous.assume_init();
        let mut pending = MaybeUninit::<libc::sigset_t>::uninit();
        let already_pending = libc::sigpending(pending.as_mut_ptr()) == 0
            && libc::sigismember(pending.as_ptr(), libc::SIGPIPE) == 1;

        let result = write();

        let broken_pipe = matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE));
        if broken_pipe && !already_pending {
            let now = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            while libc::sigtimedwait(&pipe_only, ptr::null_mut(), &now) == -1
                && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
            {}
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &previous, ptr::null_mut());
        result
    }
}

#[cfg(test)]
mod device_name_tests {
    use super::is_windows_device_name;

    #[test]
    fn windows_device_names_are_recognised_in_every_spelling() {
        for name in [
            "NUL",
            "nul",
            "Nul.wav",
            "CON",
            "con .txt",
            "AUX",
            "PRN",
            "COM1",
            "com9.wav",
            "LPT1",
            "lpt3.x.y",
            "COM\u{b9}",
            "CONIN$",
            "conout$",
        ] {
            assert!(is_windows_device_name(name), "{name}");
        }
        for name in [
            "null",
            "NUL1",
            "CONSOLE",
            "COM0",
            "COM10",
            "LPT",
            "nulls.wav",
            "rain.wav",
            "",
            "xNUL",
        ] {
            assert!(!is_windows_device_name(name), "{name}");
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("camb-dest-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn relative_targets_are_taken_from_the_links_directory() {
        let dir = scratch("relative");
        fs::create_dir(dir.join("a")).unwrap();
        std::os::unix::fs::symlink("../b.wav", dir.join("a/link")).unwrap();
        let (end, metadata) = follow_symlinks(&dir.join("a/link")).unwrap();
        assert_eq!(end, dir.join("a/../b.wav"));
        assert!(metadata.is_none());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_trailing_slash_names_no_file() {
        let dir = scratch("slash");
        let mut path = dir.join("new.wav").into_os_string();
        path.push("/");
        let err = Destination::of(Path::new(&path), None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidParameter, "{err}");
        assert_eq!(
            Destination::of(Path::new(""), None).unwrap_err().kind(),
            ErrorKind::InvalidParameter
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
