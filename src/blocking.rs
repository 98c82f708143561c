//! The blocking form of every operation, for Rust callers: its work
//! ([`crate::operations`]) run to its end on the calling thread ([`run_here`]),
//! the very work a job runs on the client's pool. Only here can chunks and
//! progress reach the caller's own code as they come, since only here does the
//! work run on the caller's thread. (The C ABI's blocking calls run the same
//! works the same way, with the caller's cancel token.)

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::cancel::CancelToken;
use crate::client::Client;
use crate::create::CreateRequest;
use crate::engine::{StepContext, Work, run_here};
use crate::error::Error;
use crate::operations::{
    AudioUrlWork, AudioUrlsWork, BatchWork, CreateWork, DownloadWork, GenerateWork, LanguagesWork,
    Output, SaveWork, SpeakToFileWork, SpeakWork, StatusWork, VoicesWork, WaitWork,
};
use crate::speech::{SpeechInfo, SpeechRequest};
use crate::task::TaskInfo;
use crate::voices::{Language, Languages, Voice};
use crate::wait::{Progress, WaitOptions};

/// What a finished generation made: its task, how the task ended, the bytes saved.
#[derive(Debug, Clone)]
pub struct Generated {
    pub task_id: String,
    pub info: TaskInfo,
    pub bytes: u64,
}

/// Runs `work` here, under `cancel` if given: every blocking call, the C ABI's too.
pub(crate) fn run(
    work: &mut dyn Work<Output>,
    cancel: Option<&CancelToken>,
) -> Result<Output, Error> {
    match cancel {
        Some(cancel) => run_here(work, cancel),
        None => run_here(work, &CancelToken::new()),
    }
}

impl Client {
    /// `GET /text-to-sound/{task_id}`: the task's status, retried on transient failures.
    pub fn get_task_status(&self, task_id: &str) -> Result<TaskInfo, Error> {
        let mut work = StatusWork::new(self, task_id, None)?;
        Ok(run(&mut work, None)?.into_task()?.1)
    }

    /// `POST /text-to-sound`: creates a task and returns its id. Validated first;
    /// retried only if `request.retry` is set (a retry can create a second paid task).
    pub fn create_task(&self, request: &CreateRequest) -> Result<String, Error> {
        let mut work = CreateWork::new(self, request.clone(), Arc::default())?;
        run(&mut work, None)?.into_task_id()
    }

    /// Polls the task's status until it is final (any status but PENDING) and
    /// returns that status; `Timeout` if `options.deadline` comes first.
    /// `progress` is told of every poll (returning false stops the wait).
    pub fn wait_for_task(
        &self,
        task_id: &str,
        options: &WaitOptions,
        cancel: Option<&CancelToken>,
        progress: impl FnMut(&Progress) -> bool + Send,
    ) -> Result<TaskInfo, Error> {
        let report = Some(Box::new(progress) as _);
        let mut work = WaitWork::new(self, task_id, options, report, Arc::default())?;
        Ok(run(&mut work, cancel)?.into_task()?.1)
    }

    /// Streams the audio of a successful run to `sink`, chunk by chunk (64 KiB,
    /// the last one shorter), and returns the number of bytes delivered. Retried
    /// like any read until the first byte reaches the sink; after that a failure
    /// is reported (the sink has partial data). `sink` returning an error stops
    /// the download with that error. The client's timeout bounds the whole
    /// download, the sink's own time included.
    pub fn download_audio(
        &self,
        run_id: i64,
        cancel: Option<&CancelToken>,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        let mut work = DownloadWork {
            client: self,
            run_id,
            sink,
            kept: None,
        };
        run(&mut work, cancel)?.into_bytes()
    }

    /// Saves the audio of a successful run to `path`, following any symlinks to
    /// the file at their end, as `curl -o` would write it: a regular file there,
    /// or none, is replaced atomically (never left partial; a replaced file keeps
    /// its permissions); a device or a FIFO is written in place; a directory, a
    /// socket, a symlink loop, or a parent directory that does not exist or cannot
    /// be written to is refused with an `Io` error before anything is downloaded.
    pub fn save_audio(
        &self,
        run_id: i64,
        path: &Path,
        cancel: Option<&CancelToken>,
    ) -> Result<u64, Error> {
        let mut work = SaveWork::new(self, run_id, path.to_path_buf())?;
        run(&mut work, cancel)?.into_bytes()
    }

    /// `GET /text-to-sound-result/{run_id}?output_type=FILE_URL`: a pre-signed URL
    /// of the audio.
    pub fn get_audio_url(&self, run_id: i64) -> Result<String, Error> {
        let mut work = AudioUrlWork {
            client: self,
            run_id,
        };
        run(&mut work, None)?.into_audio_url()
    }

    /// `POST /text-to-sound-results`: URLs for many runs at once. Run ids the server
    /// does not know are absent from the map. A read, so it is retried like one.
    pub fn get_audio_urls(&self, run_ids: &[i64]) -> Result<HashMap<i64, String>, Error> {
        let mut work = AudioUrlsWork::new(self, run_ids.to_vec())?;
        Ok(run(&mut work, None)?.into_audio_urls()?.1)
    }

    /// The status of each task, in the order given, each with its own result.
    ///
    /// Up to `connections` requests run at once (0: the default), on this thread
    /// and threads of the batch's own, sharing the client's keep-alive pool. The
    /// client's timeout bounds the whole batch, as it bounds any one call:
    /// entries not answered by then fail with `Timeout`.
    pub fn get_task_statuses<S: AsRef<str>>(
        &self,
        task_ids: &[S],
        connections: usize,
    ) -> Result<Vec<Result<TaskInfo, Error>>, Error> {
        let ids = task_ids
            .iter()
            .map(|id| (id.as_ref().to_owned(), None))
            .collect();
        let mut work = BatchWork::new(self, ids, connections)?;
        let statuses = run(&mut work, None)?.into_statuses()?;
        Ok(statuses.into_iter().map(|(_, result)| result).collect())
    }

    /// Prompt to WAV file: creates the task, waits for it (`progress` told of
    /// every poll), and saves its audio to `path` by the rules of
    /// [`Client::save_audio`]. Everything that can be checked (the path too) is
    /// checked before the task is created. A task that ends without audio is
    /// `TaskFailed`, with why.
    pub fn generate(
        &self,
        request: &CreateRequest,
        options: &WaitOptions,
        path: &Path,
        cancel: Option<&CancelToken>,
        progress: impl FnMut(&Progress) -> bool + Send,
    ) -> Result<Generated, Error> {
        let report = Some(Box::new(progress) as _);
        let mut work = GenerateWork::new(
            self,
            request.clone(),
            options,
            path.to_path_buf(),
            report,
            Arc::default(),
        )?;
        let (task_id, info, bytes) = run(&mut work, cancel)?.into_generated()?;
        Ok(Generated {
            task_id,
            info,
            bytes,
        })
    }

    /// `POST /tts-stream`: speech of `request`, handed to `sink` on this thread
    /// as it arrives, with what is known of the audio so far. Sent again only
    /// when the server cannot have started it (no connection, 429, 503); a
    /// stream cut in the middle is an error. `sink` returning an error stops it.
    pub fn speak(
        &self,
        request: &SpeechRequest,
        cancel: Option<&CancelToken>,
        mut sink: impl FnMut(&[u8], &SpeechInfo) -> Result<(), Error>,
    ) -> Result<SpeechInfo, Error> {
        let sink = |chunk: &[u8], info: &SpeechInfo, _: &StepContext<'_>| sink(chunk, info);
        let mut work = SpeakWork::new(self, request.clone(), sink)?;
        run(&mut work, cancel)?.into_speech()
    }

    /// Speech of `request` saved to `path` by the rules of
    /// [`Client::save_audio`] (a stream cut short leaves what was there); a
    /// WAV file gets the sizes its streamed header lacks.
    pub fn speak_to_file(
        &self,
        request: &SpeechRequest,
        path: &Path,
        cancel: Option<&CancelToken>,
    ) -> Result<SpeechInfo, Error> {
        let mut work = SpeakToFileWork::new(self, request.clone(), path.to_path_buf())?;
        run(&mut work, cancel)?.into_speech()
    }

    /// `GET /list-voices`.
    pub fn list_voices(&self) -> Result<Vec<Voice>, Error> {
        run(&mut VoicesWork { client: self }, None)?.into_voices()
    }

    /// `GET /source-languages` or `GET /target-languages`.
    pub fn list_languages(&self, which: Languages) -> Result<Vec<Language>, Error> {
        run(
            &mut LanguagesWork {
                client: self,
                which,
            },
            None,
        )?
        .into_languages()
    }
}
