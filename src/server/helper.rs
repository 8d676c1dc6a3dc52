//! The helper thread: blocking file work kept off the event loop.
//!
//! One thread takes [`Job`]s in order from the loop: probing an image file a
//! request names (`change`), and writing a file the machine produced
//! (`screendump`, `memsave`, `pmemsave`, a snapshot table). Each completion comes
//! back to the loop as an [`Event`] ([`Event::Probed`], [`Event::FileWritten`])
//! through the loop's channel, which wakes its poll. Jobs run strictly in the
//! order given, so a file written by one command is on disk before a later
//! command probes it, exactly as when the loop did the work itself.
//!
//! The loop keeps the rules that depend on completion: a client's bytes that
//! name a file wait for its probe before the engine gets them, and bytes a step
//! sends after writing a file wait until the file is written (see
//! `event_loop`).

use std::io;
use std::sync::mpsc::{self, Sender};
use std::thread;

use super::{image, Event, EventSender};
use crate::qmp::session::ClientId;

/// Work for the helper thread.
#[derive(Debug)]
pub enum Job {
    /// Probe the image at `path` for `client`'s request.
    Probe {
        /// The client whose bytes wait for it.
        client: ClientId,
        /// The file named.
        path: String,
    },
    /// Write `bytes` to `path`.
    Write {
        /// The file.
        path: String,
        /// Its whole content.
        bytes: Vec<u8>,
    },
}

/// The loop's handle on a helper thread (one per VM, started on first use).
#[derive(Debug)]
pub struct Helper {
    jobs: Option<Sender<Job>>,
    events: EventSender,
}

impl Helper {
    /// A helper that reports to `events`; its thread starts with the first job.
    pub fn new(events: EventSender) -> Self {
        Helper { jobs: None, events }
    }

    /// Hands `job` to the thread, starting it if needed.
    pub fn submit(&mut self, job: Job) -> io::Result<()> {
        if self.jobs.is_none() {
            let (tx, rx) = mpsc::channel::<Job>();
            let events = self.events.clone();
            thread::Builder::new()
                .name("helper".to_owned())
                .spawn(move || {
                    for job in rx {
                        if events.send(run(job)).is_err() {
                            return;
                        }
                    }
                })?;
            self.jobs = Some(tx);
        }
        let jobs = self.jobs.as_ref().expect("started above");
        jobs.send(job)
            .map_err(|_| io::Error::other("the helper thread stopped"))
    }
}

/// Does one job; the event that reports it.
fn run(job: Job) -> Event {
    match job {
        Job::Probe { client, path } => {
            let probe = image::probe(&path);
            Event::Probed {
                client,
                path,
                probe,
            }
        }
        Job::Write { path, bytes } => {
            if let Err(e) = std::fs::write(&path, &bytes) {
                eprintln!("qmpsim: could not write '{path}': {e}");
            }
            Event::FileWritten
        }
    }
}
