//! The store's threads: the group-commit writer, the readers, and how work is queued to them.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::SqliteStore;
use crate::core::embedded::store::{StoreError, StoreFuture};

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 256;

/// A queued write: runs inside the batch transaction, answers its caller after COMMIT.
pub(super) trait WriteOp: Send {
    /// Runs the operation and keeps its result; `false` if it failed (its savepoint is then
    /// rolled back).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: the operation's result if `commit` succeeded, else the error.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

pub(super) type WriteJob = Box<dyn WriteOp>;
/// A read: runs on a reader connection and answers the caller itself.
pub(super) type ReadJob = Box<dyn FnOnce(&Connection) + Send>;

/// A [`WriteOp`] from a closure.
struct Op<T, F> {
    op: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteOp for Op<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(op) = self.op.take() else {
            return false;
        };
        let result = op(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let result = match (commit, self.result) {
            (Err(error), _) => Err(error),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(StoreError::Failed("the write did not run".into())),
        };
        let _ = self.reply.send(result);
    }
}

impl SqliteStore {
    /// Queues a write; the future resolves after the transaction holding it committed.
    pub(super) fn write<T, F>(&self, op: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        send_write(self.writer.as_ref(), op)
    }

    /// Queues a read on a reader thread.
    pub(super) fn read<T, F>(&self, op: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |conn| {
            let _ = tx.send(op(conn));
        });
        let sent = self.readers.as_ref().is_some_and(|r| r.send(job).is_ok());
        Box::pin(async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            rx.await.unwrap_or(Err(StoreError::Closed))
        })
    }
}

pub(super) fn writer_loop(conn: &Connection, jobs: &mpsc::Receiver<WriteJob>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(conn, batch);
    }
}

/// Runs `batch` in one transaction, each job in its own savepoint; answers after COMMIT.
fn run_batch(conn: &Connection, batch: Vec<WriteJob>) {
    if let Err(error) = conn.execute_batch("BEGIN IMMEDIATE") {
        let error = StoreError::from(error);
        tracing::warn!(%error, jobs = batch.len(), "session store: cannot start a write");
        for job in batch {
            job.finish(Err(error.clone()));
        }
        return;
    }
    let mut done = Vec::with_capacity(batch.len());
    for mut job in batch {
        if let Err(error) = conn.execute_batch("SAVEPOINT job") {
            done.push((job, Some(StoreError::from(error))));
            continue;
        }
        let ok = match catch_unwind(AssertUnwindSafe(|| job.run(conn))) {
            Ok(ok) => ok,
            Err(_) => {
                tracing::error!("session store: a write panicked and was rolled back");
                false
            }
        };
        let end = if ok {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        let error = conn.execute_batch(end).err().map(StoreError::from);
        done.push((job, error));
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            for (job, error) in done {
                job.finish(error.map_or(Ok(()), Err));
            }
        }
        Err(error) => {
            let _ = conn.execute_batch("ROLLBACK");
            let error = StoreError::from(error);
            tracing::warn!(%error, "session store: commit failed");
            for (job, _) in done {
                job.finish(Err(error.clone()));
            }
        }
    }
}

pub(super) fn reader_loop(conn: &Connection, jobs: &Mutex<mpsc::Receiver<ReadJob>>) {
    loop {
        let job = {
            let jobs = jobs.lock().unwrap_or_else(PoisonError::into_inner);
            jobs.recv()
        };
        let Ok(job) = job else { break };
        if catch_unwind(AssertUnwindSafe(|| job(conn))).is_err() {
            tracing::error!("session store: a read panicked");
        }
    }
}

/// Queues a write on `writer` (also used by futures that queue several writes).
pub(super) fn send_write<T, F>(writer: Option<&mpsc::Sender<WriteJob>>, op: F) -> StoreFuture<T>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
{
    let (reply, rx) = oneshot::channel();
    let job: WriteJob = Box::new(Op {
        op: Some(op),
        result: None,
        reply,
    });
    let sent = writer.is_some_and(|w| w.send(job).is_ok());
    Box::pin(async move {
        if !sent {
            return Err(StoreError::Closed);
        }
        rx.await.unwrap_or(Err(StoreError::Closed))
    })
}
