//! `-record`: a [`Recorder`] that writes the session to a `.qmptrace` file through
//! [`crate::trace::TraceWriter`], with a checkpoint digest every
//! `CHECKPOINT_EVERY_STEPS` steps and an `End` frame when the session ends.
//!
//! Write-ahead: steps are encoded into a buffer, and [`Recorder::commit`] hands
//! the buffer to the kernel with one `write(2)` before the server sends the
//! burst's bytes to its clients; `fsync` only at the end. So a recorder killed
//! with SIGKILL leaves every step whose output a client saw.
//!
//! Start: [`TraceRecorder::create`] runs before any monitor opens. It opens the
//! path without truncating it, and takes an exclusive `flock` on it, so a path
//! that cannot be written is refused at once with the OS error, and a second
//! recorder of the same file is refused while the first runs. The file is only
//! truncated at the first commit, once the server is up: a start that fails
//! later (a monitor that cannot bind) leaves an existing file as it was, and
//! removes a file it created.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::Recorder;
use crate::engine::{Engine, Input, Output};
use crate::machine::config::MachineConfig;
use crate::trace::format::os_text;
use crate::trace::{TraceError, TraceHeader, TraceWriter};

/// Why `-record` could not start.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file could not be opened or created.
    #[error("qmpsim: -record {}: {}", path.display(), os_text(source))]
    Open {
        /// The path given.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Another process records to the same file.
    #[error("qmpsim: -record {}: another process is recording to this file", path.display())]
    Locked {
        /// The path given.
        path: PathBuf,
    },
    /// The trace header could not be encoded.
    #[error("qmpsim: -record {}: {source}", path.display())]
    Trace {
        /// The path given.
        path: PathBuf,
        /// Why.
        source: TraceError,
    },
}

/// Buffers trace bytes until [`commit`](WalSink::commit) writes them out.
#[derive(Debug)]
struct WalSink {
    file: File,
    buf: Vec<u8>,
    /// Whether the file was truncated (at the first commit).
    begun: bool,
}

impl Write for WalSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    /// Nothing: bytes leave at [`commit`](WalSink::commit).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl WalSink {
    /// Truncates the file the first time, then writes the buffer with one
    /// `write_all` (one `write(2)` unless the kernel takes less).
    fn commit(&mut self) -> io::Result<()> {
        if !self.begun {
            // Only regular files are truncated (a device such as /dev/full is not).
            if self.file.metadata()?.is_file() {
                self.file.set_len(0)?;
            }
            self.begun = true;
        }
        if !self.buf.is_empty() {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// Records to a trace file.
#[derive(Debug)]
pub struct TraceRecorder {
    path: PathBuf,
    writer: Option<TraceWriter<WalSink>>,
    /// The file, before [`begin`](Self::begin) gave the header.
    unstarted: Option<WalSink>,
    /// The file did not exist before: removed if the recording never began.
    created: bool,
}

impl TraceRecorder {
    /// Opens `path` (creating it if needed, truncating nothing yet), locks it, and
    /// buffers the header for `config`.
    pub fn create(path: &Path, config: &MachineConfig) -> Result<Self, RecordError> {
        Self::create_with_header(path, &TraceHeader::new(config.clone()))
    }

    /// [`create`](Self::create) with any header.
    pub fn create_with_header(path: &Path, header: &TraceHeader) -> Result<Self, RecordError> {
        let mut recorder = Self::open_deferred(path)?;
        recorder
            .begin(header)
            .map_err(|source| RecordError::Trace {
                path: path.to_owned(),
                source,
            })?;
        Ok(recorder)
    }

    /// Opens and locks `path` as [`create`](Self::create) does, without a
    /// header yet: [`begin`](Self::begin) gives it once known (`qmpsim proxy`
    /// learns the server's greeting from its first client's session). Steps
    /// recorded before are dropped.
    pub fn open_deferred(path: &Path) -> Result<Self, RecordError> {
        let open_error = |source| RecordError::Open {
            path: path.to_owned(),
            source,
        };
        let (file, created) = match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(file) => (file, true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => (
                OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(open_error)?,
                false,
            ),
            Err(e) => return Err(open_error(e)),
        };
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            if created {
                let _ = std::fs::remove_file(path);
            }
            return Err(if e.kind() == io::ErrorKind::WouldBlock {
                RecordError::Locked {
                    path: path.to_owned(),
                }
            } else {
                open_error(e)
            });
        }
        Ok(TraceRecorder {
            path: path.to_owned(),
            writer: None,
            unstarted: Some(WalSink {
                file,
                buf: Vec::new(),
                begun: false,
            }),
            created,
        })
    }

    /// Buffers the preamble and `header` of a recording opened with
    /// [`open_deferred`](Self::open_deferred); nothing when it has begun.
    pub fn begin(&mut self, header: &TraceHeader) -> Result<(), TraceError> {
        let Some(sink) = self.unstarted.take() else {
            return Ok(());
        };
        self.writer = Some(TraceWriter::new(sink, header)?);
        Ok(())
    }

    /// Whether [`begin`](Self::begin) has given the header.
    pub fn has_header(&self) -> bool {
        self.unstarted.is_none()
    }

    /// Writes a full-state checkpoint every `steps` steps (0: none).
    #[must_use]
    pub fn with_state_every_steps(mut self, steps: u64) -> Self {
        if let Some(w) = self.writer.as_mut() {
            w.set_state_every_steps(steps);
        }
        self
    }

    /// `-record PATH: <what went wrong>`, for the server's message.
    fn error(&self, what: &str) -> io::Error {
        io::Error::other(format!("-record {}: {what}", self.path.display()))
    }

    fn trace_error(&self, e: &TraceError) -> io::Error {
        self.error(&e.to_string())
    }
}

impl TraceRecorder {
    /// Buffers a `Step` frame without checkpoints (an observed session has no
    /// engine); it reaches the file at the next [`Recorder::commit`].
    pub fn record_step(&mut self, input: &Input, outputs: &[Output]) -> io::Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let result = w.record(input, outputs);
        result.map_err(|e| self.trace_error(&e))
    }

    /// Ends a recording made with [`record_step`](Self::record_step): the `End`
    /// frame with the step count and `digest`, one write, then `fsync`.
    pub fn finish_steps(&mut self, digest: &str) -> io::Result<()> {
        let Some(w) = self.writer.take() else {
            return Ok(());
        };
        let steps = w.steps();
        let mut sink = match w.finish(steps, digest) {
            Ok(sink) => sink,
            Err(e) => return Err(self.trace_error(&e)),
        };
        let done = sink.commit().and_then(|()| sink.file.sync_all());
        done.map_err(|e| self.error(&os_text(&e)))
    }
}

impl Drop for TraceRecorder {
    /// A recording that never began (the server failed to start) removes the
    /// file it created; an existing file was never truncated.
    fn drop(&mut self) {
        let begun = match (&self.writer, &self.unstarted) {
            (Some(w), _) => w.get_ref().begun,
            (None, Some(sink)) => sink.begun,
            (None, None) => true,
        };
        if self.created && !begun {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Recorder for TraceRecorder {
    fn record(&mut self, input: &Input, outputs: &[Output], engine: &Engine) -> io::Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let result = w.record_and_checkpoint(input, outputs, engine);
        result.map_err(|e| self.trace_error(&e))
    }

    fn commit(&mut self) -> io::Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let result = w.get_mut().commit();
        result.map_err(|e| self.error(&os_text(&e)))
    }

    fn finish(&mut self, engine: &Engine) -> io::Result<()> {
        let Some(w) = self.writer.take() else {
            return Ok(());
        };
        let mut sink = match w.finish_with(engine) {
            Ok(sink) => sink,
            Err(e) => return Err(self.trace_error(&e)),
        };
        let done = sink.commit().and_then(|()| sink.file.sync_all());
        done.map_err(|e| self.error(&os_text(&e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qmp::session::ClientId;

    fn connect() -> Input {
        Input::Connect {
            client: ClientId(1),
            monitor: 0,
        }
    }

    fn record_one(r: &mut TraceRecorder) {
        let mut engine = Engine::new(MachineConfig::default());
        let outputs = engine.step(connect());
        r.record(&connect(), &outputs, &engine).unwrap();
    }

    #[test]
    fn create_leaves_an_existing_file_untouched_until_the_first_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.qmptrace");
        std::fs::write(&path, b"previous trace").unwrap();
        let mut r = TraceRecorder::create(&path, &MachineConfig::default()).unwrap();
        record_one(&mut r);
        assert_eq!(std::fs::read(&path).unwrap(), b"previous trace");
        r.commit().unwrap();
        assert!(std::fs::read(&path).unwrap().starts_with(b"QMPTRACE"));
    }

    #[test]
    fn dropped_before_commit_removes_the_file_it_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.qmptrace");
        drop(TraceRecorder::create(&path, &MachineConfig::default()).unwrap());
        assert!(!path.exists());
    }

    #[test]
    fn dropped_before_commit_keeps_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.qmptrace");
        std::fs::write(&path, b"previous trace").unwrap();
        drop(TraceRecorder::create(&path, &MachineConfig::default()).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"previous trace");
    }

    #[test]
    fn second_recorder_of_one_file_is_refused_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.qmptrace");
        let mut first = TraceRecorder::create(&path, &MachineConfig::default()).unwrap();
        record_one(&mut first);
        first.commit().unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = TraceRecorder::create(&path, &MachineConfig::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "qmpsim: -record {}: another process is recording to this file",
                path.display()
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn create_in_a_missing_folder_reports_the_os_error() {
        let err = TraceRecorder::create(
            Path::new("/nonexistent/dir/t.qmptrace"),
            &MachineConfig::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "qmpsim: -record /nonexistent/dir/t.qmptrace: No such file or directory"
        );
    }

    #[test]
    fn create_on_a_directory_reports_the_os_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = TraceRecorder::create(dir.path(), &MachineConfig::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("qmpsim: -record {}: Is a directory", dir.path().display())
        );
    }

    #[test]
    fn commit_onto_a_full_device_reports_no_space() {
        let mut r =
            TraceRecorder::create(Path::new("/dev/full"), &MachineConfig::default()).unwrap();
        record_one(&mut r);
        let err = r.commit().unwrap_err();
        assert_eq!(
            err.to_string(),
            "-record /dev/full: No space left on device"
        );
    }

    #[test]
    fn record_only_buffers_and_commit_writes_everything_so_far() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.qmptrace");
        let mut r = TraceRecorder::create(&path, &MachineConfig::default()).unwrap();
        r.commit().unwrap();
        let header_only = std::fs::metadata(&path).unwrap().len();
        record_one(&mut r);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), header_only);
        r.commit().unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > header_only);
    }

    #[test]
    fn finished_recording_replays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.qmptrace");
        let mut r = TraceRecorder::create(&path, &MachineConfig::default()).unwrap();
        let mut engine = Engine::new(MachineConfig::default());
        let outputs = engine.step(connect());
        r.record(&connect(), &outputs, &engine).unwrap();
        r.finish(&engine).unwrap();
        assert_eq!(crate::replay::replay_file(&path).unwrap().steps, 1);
    }
}
