//! SQLite's write-ahead log folded into the database file on a thread of its own.
//!
//! By default the connection whose commit takes the log past 1,000 pages checkpoints it there
//! and then: copies the pages into the database file and syncs both, inside the commit its
//! caller awaits. A KEV listing re-matched at 200 members writes about 130 MB of log in 150
//! commits; the checkpoints in them took about 0.5 s of the listing's 3 s before its
//! notifications were queued. Every 200 ms was slower than once a second (more syncs
//! beside the writer: 2.9–3.1 s against 2.4–2.5 s). Here a thread checkpoints instead (`PASSIVE`: it never waits for
//! or blocks a writer or reader), once a second, and the commits only append to the
//! log. The pool's own automatic checkpoint stays, at 262,144 pages (1 GiB of log, set by
//! `Store::open`), should the thread fall behind: at 16,384 pages, the commit of an import of
//! the CVE 5 corpus (160 MB of log in one transaction) checkpointed it inside the commit,
//! 0.47 s with the write lock held, where the thread folds it in beside the next writer.

use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::OpenFlags;

/// How often the log is folded in.
const INTERVAL: Duration = Duration::from_millis(1000);

/// The checkpointing thread; it stops when this is dropped or [`Checkpointer::stop`]ped.
pub(crate) struct Checkpointer {
    stop: Mutex<Option<Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Starts checkpointing the database in `file`; `None` (and the pool checkpoints as
    /// SQLite does by default) when it cannot be opened for writing.
    pub(crate) fn start(file: &Path) -> Option<Self> {
        let conn = crate::direct::open(
            file,
            OpenFlags::SQLITE_OPEN_READ_WRITE,
            "checkpoints left to the commits",
        )?;
        let (stop, stopped) = channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ward-checkpoint".into())
            .spawn(move || {
                loop {
                    let last = !matches!(
                        stopped.recv_timeout(INTERVAL),
                        Err(RecvTimeoutError::Timeout)
                    );
                    // A checkpoint with nothing new in the log returns at once.
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!(error = %e, "checkpoint");
                    }
                    if last {
                        break;
                    }
                }
            })
            .ok()?;
        Some(Self {
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops the thread after a last checkpoint and waits for it, so that its connection is
    /// closed before the pool's last one (which then removes the log).
    pub(crate) fn stop(&self) {
        drop(self.stop.lock().map(|mut s| s.take()));
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}
