//! Many statuses in one call, spread over a bounded set of keep-alive connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::client::Client;
use crate::error::Error;
use crate::retry::Plan;
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
    /// Up to `connections` requests run at once (0: the default), on that many
    /// short-lived worker threads (one set per batch, not per request) sharing the
    /// client's keep-alive pool. The client's timeout bounds the whole batch, as it
    /// bounds any one call: entries not answered by then fail with `Timeout`.
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
        let plan = Plan {
            deadline: Some(Instant::now() + self.retry.timeout),
            ..Plan::new(true)
        };
        let query = |id: &S| {
            self.status_url(id.as_ref())
                .and_then(|url| self.get_task_status_within(&url, &plan))
        };
        let next = AtomicUsize::new(0);
        // Each worker takes the next index until none is left, and keeps its own
        // (index, result) pairs; they are put in order at the end.
        let work = || {
            let mut done = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = task_ids.get(index) else { break };
                done.push((index, query(id)));
            }
            done
        };
        let mut pairs = std::thread::scope(|scope| {
            // The calling thread works too, so a failure to start threads (resource
            // limits) only slows the batch down.
            let helpers: Vec<_> = (1..workers)
                .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
                .collect();
            let mut pairs = work();
            for helper in helpers {
                // A worker that panicked re-raises here, to the caller's guard.
                pairs.extend(
                    helper
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p)),
                );
            }
            pairs
        });
        pairs.sort_unstable_by_key(|(index, _)| *index);
        Ok(pairs.into_iter().map(|(_, result)| result).collect())
    }
}
