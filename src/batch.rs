//! Many statuses in one call, spread over a bounded set of keep-alive connections.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::client::Client;
use crate::error::Error;
use crate::task::TaskInfo;

/// Default and largest number of requests in flight at once (and so of pooled
/// connections used). The pool keeps up to 32 idle connections, so a batch at or
/// under that reuses its connections in the next batch.
pub(crate) const DEFAULT_BATCH_CONNECTIONS: usize = 8;
pub(crate) const MAX_BATCH_CONNECTIONS: usize = 32;
/// Largest batch accepted in one call.
pub(crate) const MAX_BATCH_SIZE: usize = 100_000;

impl Client {
    /// The status of each task, in the order given, each with its own result.
    ///
    /// Up to `connections` requests run at once, on that many short-lived worker
    /// threads (one set per batch, not per request) sharing the client's
    /// keep-alive pool. Each request is retried and bounded like a single call.
    pub fn get_task_statuses<S: AsRef<str> + Sync>(
        &self,
        task_ids: &[S],
        connections: usize,
    ) -> Result<Vec<Result<TaskInfo, Error>>, Error> {
        if task_ids.len() > MAX_BATCH_SIZE {
            return Err(Error::invalid(format!(
                "{} task ids were given; the limit is {MAX_BATCH_SIZE} per call",
                task_ids.len()
            )));
        }
        if connections > MAX_BATCH_CONNECTIONS {
            return Err(Error::invalid(format!(
                "at most {MAX_BATCH_CONNECTIONS} connections, not {connections}"
            )));
        }
        let workers = match connections {
            0 => DEFAULT_BATCH_CONNECTIONS,
            n => n,
        }
        .min(task_ids.len());
        if workers <= 1 {
            return Ok(task_ids
                .iter()
                .map(|id| self.get_task_status(id.as_ref()))
                .collect());
        }
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<TaskInfo, Error>>>> =
            Mutex::new((0..task_ids.len()).map(|_| None).collect());
        let work = || {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = task_ids.get(index) else { break };
                let outcome = self.get_task_status(id.as_ref());
                let mut results = results.lock().unwrap_or_else(|p| p.into_inner());
                results[index] = Some(outcome);
            }
        };
        std::thread::scope(|scope| {
            // The calling thread works too, so a failure to start threads (resource
            // limits) only slows the batch down.
            for _ in 1..workers {
                let _ = std::thread::Builder::new().spawn_scoped(scope, work);
            }
            work();
        });
        let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::invalid(
                        "internal error: a batch entry was not filled",
                    ))
                })
            })
            .collect())
    }
}
