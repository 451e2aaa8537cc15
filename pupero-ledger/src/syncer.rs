//! The writer's answers, held until what they answer is on disk.
//!
//! On SQLite the writer's connection commits without syncing the write-ahead log
//! (`synchronous = NORMAL`, which SQLite keeps consistent through any crash), and starts the next
//! group at once. Each group's answers go to the [`Syncer`], a thread of its own, which syncs the
//! log (one `fdatasync` for every group that arrived meanwhile) and only then delivers them. So
//! no caller hears of a commit before it is durable, as with `synchronous = FULL`, but the sync
//! no longer stops the writer: it overlaps the next group's work ("flush pipelining").
//!
//! Another connection may read a commit a few milliseconds before it is durable, as on InnoDB.
//! Nothing acts on such a read outside the database without first committing a write of its own
//! (a withdrawal is relayed only after its `signed` step commits), and that later commit's sync
//! covers the earlier one: the log is one sequence.
//!
//! A failed sync leaves the log's state on disk unknown (the kernel may have dropped the pages it
//! could not write), so the syncer stops there: that group and every later one are answered with
//! the error, and the process must be restarted to write again.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;

/// Groups waiting for the syncer before the writer itself waits: a few syncs' worth, so the
/// writer runs at most this far ahead of the disk.
const MAX_GROUPS_AHEAD: usize = 8;

/// Delivers a group's answers, or the sync's failure, once the syncer knows which.
pub(crate) type Deliver = Box<dyn FnOnce(Result<(), Arc<io::Error>>) + Send>;

/// The handle the writer sends its groups' answers to.
pub(crate) struct Syncer {
    groups: mpsc::Sender<(bool, Deliver)>,
}

impl Syncer {
    /// Starts the syncer's thread, which makes what was written durable by calling `sync`.
    pub(crate) fn start(sync: impl FnMut() -> io::Result<()> + Send + 'static) -> Syncer {
        let (groups, rx) = mpsc::channel(MAX_GROUPS_AHEAD);
        std::thread::Builder::new()
            .name("pupero-ledger-sync".to_owned())
            .spawn(move || run(rx, sync))
            .expect("the system starts a thread");
        Syncer { groups }
    }

    /// Hands over one group's answers: `deliver` runs once everything committed so far (if
    /// `wrote`, this group too) is durable. Answers are delivered in the order handed over.
    pub(crate) async fn deliver(&self, wrote: bool, deliver: Deliver) {
        if let Err(mpsc::error::SendError((_, deliver))) = self.groups.send((wrote, deliver)).await
        {
            // Only a panic in the thread ends it early: nothing can be said durable.
            deliver(Err(Arc::new(io::Error::other(
                "the ledger's syncer has stopped",
            ))));
        }
    }
}

fn run(mut rx: mpsc::Receiver<(bool, Deliver)>, mut sync: impl FnMut() -> io::Result<()>) {
    let mut unsynced = false;
    let mut failed: Option<Arc<io::Error>> = None;
    while let Some(first) = rx.blocking_recv() {
        let mut groups = vec![first];
        while let Ok(next) = rx.try_recv() {
            groups.push(next);
        }
        unsynced |= groups.iter().any(|(wrote, _)| *wrote);
        if unsynced && failed.is_none() {
            match sync() {
                Ok(()) => unsynced = false,
                Err(error) => {
                    tracing::error!(%error, "syncing the ledger's write-ahead log failed; no write is answered until a restart");
                    failed = Some(Arc::new(error));
                }
            }
        }
        for (_, deliver) in groups {
            deliver(failed.clone().map_or(Ok(()), Err));
        }
    }
}

/// Syncs SQLite's write-ahead log beside the database file at `database`, and on its first call
/// the directory too (which holds the log's name: SQLite syncs it once itself, but only when
/// its commits sync).
pub(crate) fn wal_sync(database: &Path) -> impl FnMut() -> io::Result<()> + use<> {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    let directory = database.parent().map(Path::to_path_buf);
    let mut directory_synced = false;
    move || {
        match std::fs::File::open(&wal) {
            Ok(file) => file.sync_data()?,
            // SQLite removes the log only after copying it all into the database file, synced.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        // Only Unix syncs a directory through a handle opened on it.
        if cfg!(unix) && !directory_synced {
            if let Some(directory) = directory.as_deref().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(directory)?.sync_all()?;
            }
            directory_synced = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    /// The test's hold on a gated sync: it lets each call finish, and counts them.
    struct Gate {
        open: std::sync::mpsc::SyncSender<io::Result<()>>,
        calls: Arc<Mutex<u32>>,
    }

    impl Gate {
        fn calls(&self) -> u32 {
            *self.calls.lock().expect("not poisoned")
        }
    }

    /// A sync that waits for its [`Gate`].
    fn gated() -> (impl FnMut() -> io::Result<()> + Send + 'static, Gate) {
        let (open, gate) = std::sync::mpsc::sync_channel::<io::Result<()>>(0);
        let calls = Arc::new(Mutex::new(0));
        let counted = calls.clone();
        let sync = move || {
            *counted.lock().expect("not poisoned") += 1;
            gate.recv().expect("the test opens the gate")
        };
        (sync, Gate { open, calls })
    }

    fn answer(tx: oneshot::Sender<Result<(), String>>) -> Deliver {
        Box::new(move |result| drop(tx.send(result.map_err(|e| e.to_string()))))
    }

    #[tokio::test]
    async fn answers_wait_for_the_sync_and_keep_their_order() {
        let (sync, gate) = gated();
        let syncer = Syncer::start(sync);
        let (first_tx, mut first) = oneshot::channel();
        syncer.deliver(true, answer(first_tx)).await;
        // The sync is under way and not finished: nothing is answered.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while gate.calls() == 0 {
            assert!(std::time::Instant::now() < deadline, "the sync starts");
            tokio::task::yield_now().await;
        }
        let (second_tx, second) = oneshot::channel();
        syncer.deliver(false, answer(second_tx)).await;
        assert!(first.try_recv().is_err());
        gate.open.send(Ok(())).expect("the syncer waits");
        assert_eq!(first.await.expect("answered"), Ok(()));
        // The second group wrote nothing and came after a sync: answered without another.
        assert_eq!(second.await.expect("answered"), Ok(()));
        assert_eq!(gate.calls(), 1);
    }

    #[tokio::test]
    async fn a_failed_sync_fails_that_group_and_every_later_one() {
        let (sync, gate) = gated();
        let syncer = Syncer::start(sync);
        let (tx, first) = oneshot::channel();
        syncer.deliver(true, answer(tx)).await;
        gate.open
            .send(Err(io::Error::other("disk gone")))
            .expect("the syncer waits");
        assert_eq!(first.await.expect("answered"), Err("disk gone".to_owned()));
        for wrote in [true, false] {
            let (tx, later) = oneshot::channel();
            syncer.deliver(wrote, answer(tx)).await;
            let later = tokio::time::timeout(Duration::from_secs(30), later).await;
            assert_eq!(
                later
                    .expect("answered without another sync")
                    .expect("answered"),
                Err("disk gone".to_owned())
            );
        }
        assert_eq!(gate.calls(), 1);
    }

    #[test]
    fn the_log_and_its_directory_are_synced() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database = dir.path().join("ledger.db");
        let mut sync = wal_sync(&database);
        // No log yet: everything is in the database file.
        sync().expect("nothing to sync");
        std::fs::write(dir.path().join("ledger.db-wal"), b"frames").expect("written");
        sync().expect("synced");
    }
}
