//! What a client tells of its work, one line per event: to the caller's
//! callback, and to stderr when `CAMB_LOG` says so. Every line passes through the
//! client's redaction before it leaves: the key, a proxy's password and the
//! header values the caller marked secret never appear, whatever a server echoes.
//! A client with neither a callback nor `CAMB_LOG` has no logger at all: each
//! event then costs one branch on an `Option`.

use std::fmt;
use std::io::Write;
use std::sync::Arc;

use crate::secrets::Secrets;

/// The environment variable that sends the lines to stderr: `error`, `warn`,
/// `info` or `debug` (any case).
pub(crate) const LOG_ENV: &str = "CAMB_LOG";

/// How much to tell, from the least to the most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// A call failed for good.
    Error = 1,
    /// A retry was scheduled.
    Warn = 2,
    /// A reply with an error status, a job's end.
    Info = 3,
    /// Every request, reply, connection and job step.
    Debug = 4,
}

impl LogLevel {
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }

    /// `error`, `warn`, `info` or `debug`, any case; anything else is `None`.
    pub fn parse(text: &str) -> Option<LogLevel> {
        [
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
        ]
        .into_iter()
        .find(|level| text.trim().eq_ignore_ascii_case(level.name()))
    }
}

/// The caller's callback: each line with its level.
pub type LogCallback = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// Where a client's lines go.
#[derive(Clone)]
pub(crate) struct Logger {
    callback: Option<(LogLevel, LogCallback)>,
    stderr: Option<LogLevel>,
    /// Texts that never leave in a line.
    secrets: Arc<Secrets>,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("callback", &self.callback.as_ref().map(|(level, _)| level))
            .field("stderr", &self.stderr)
            .finish_non_exhaustive()
    }
}

impl Logger {
    /// A logger for these sinks, or `None` when there is none (no callback, and
    /// `CAMB_LOG` unset or not a level).
    pub(crate) fn new(
        callback: Option<(LogLevel, LogCallback)>,
        secrets: Arc<Secrets>,
    ) -> Option<Logger> {
        let stderr = std::env::var(LOG_ENV)
            .ok()
            .and_then(|value| LogLevel::parse(&value));
        if callback.is_none() && stderr.is_none() {
            return None;
        }
        Some(Logger {
            callback,
            stderr,
            secrets,
        })
    }

    /// Whether a line at `level` goes anywhere.
    pub(crate) fn enabled(&self, level: LogLevel) -> bool {
        self.callback.as_ref().is_some_and(|(max, _)| level <= *max)
            || self.stderr.is_some_and(|max| level <= max)
    }

    /// Sends one line, its secrets replaced by `[redacted]`.
    pub(crate) fn line(&self, level: LogLevel, text: fmt::Arguments) {
        if !self.enabled(level) {
            return;
        }
        let line = self.secrets.redact(&text.to_string());
        // One line each, whatever a server's text held.
        let line = line.replace(['\r', '\n'], " ");
        if let Some((max, callback)) = &self.callback {
            if level <= *max {
                callback(level, &line);
            }
        }
        if self.stderr.is_some_and(|max| level <= max) {
            let _ = writeln!(std::io::stderr().lock(), "libcamb {}: {line}", level.name());
        }
    }
}

/// Logs through an `Option<Logger>`: formats nothing when there is none.
macro_rules! log_line {
    ($logger:expr, $level:expr, $($arg:tt)*) => {
        if let Some(logger) = $logger {
            // Checked before the arguments are evaluated: a line below the
            // level costs no formatting (a request's description allocates).
            if logger.enabled($level) {
                logger.line($level, format_args!($($arg)*));
            }
        }
    };
}
pub(crate) use log_line;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use zeroize::Zeroizing;

    #[test]
    fn levels_parse_in_any_case_and_order_by_detail() {
        assert_eq!(LogLevel::parse(" DEBUG "), Some(LogLevel::Debug));
        assert_eq!(LogLevel::parse("Warn"), Some(LogLevel::Warn));
        assert_eq!(LogLevel::parse("verbose"), None);
        assert!(LogLevel::Error < LogLevel::Debug);
    }

    #[test]
    fn lines_are_filtered_by_level_and_redacted() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let callback: LogCallback = Arc::new(move |level, line: &str| {
            sink.lock().unwrap().push((level, line.to_owned()));
        });
        let logger = Logger::new(
            Some((LogLevel::Info, callback)),
            Arc::new(Secrets::new([
                Zeroizing::new("SECRET".into()),
                Zeroizing::new("SECRETKEY".into()),
                Zeroizing::new("pw".into()),
            ])),
        )
        .unwrap();
        logger.line(LogLevel::Debug, format_args!("not shown"));
        logger.line(
            LogLevel::Info,
            format_args!("the server said SECRETKEY\r\nand pw"),
        );
        let seen = seen.lock().unwrap();
        assert_eq!(
            *seen,
            [(
                LogLevel::Info,
                "the server said [redacted]  and pw".to_owned()
            )]
        );
    }
}
