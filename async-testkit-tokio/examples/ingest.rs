//! A small ingest service, written against plain tokio, and the exploring test that finds
//! its race.
//!
//! The service (module `service`) uses only tokio and std: a `JoinSet` of workers parses
//! batches of records and appends them to a shared buffer; a background flusher, every
//! 5 ms and once more at shutdown, writes what is buffered to storage. Its flush copies
//! the buffer, awaits the write, then clears the buffer: a record appended during the
//! write is cleared without ever being written. The exploring test below fails with the
//! lost records, and the fixed flush (take the records out of the buffer before the
//! write) passes the same exploration.
//!
//! In a real crate the dependency is named `tokio`
//! (`tokio = { package = "async-testkit-tokio", ... }`, with `explore` in
//! `[dev-dependencies]`); here the `extern crate` line stands for that. Run with
//! `cargo run -p async-testkit-tokio --example ingest --features full,explore` (one run on
//! plain tokio) and `cargo test -p async-testkit-tokio --example ingest --features
//! full,explore` (the exploration).

extern crate async_testkit_tokio as tokio;

/// The service: no kit call anywhere in it.
mod service {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::sync::oneshot;
    use tokio::task::JoinSet;

    /// Where flushed records end up.
    #[derive(Debug, Default)]
    pub struct Storage {
        /// The records written, in the order they were written.
        pub rows: Mutex<Vec<u64>>,
    }

    impl Storage {
        /// Writes `rows`: one round trip to the database.
        async fn write(&self, rows: Vec<u64>) {
            tokio::task::yield_now().await; // the round trip
            self.rows.lock().unwrap().extend(rows);
        }
    }

    /// Which flush the service uses.
    #[derive(Clone, Copy, Debug)]
    pub enum Flush {
        /// Copy the buffer, write the copy, clear the buffer (the race).
        CopyThenClear,
        /// Take the records out of the buffer, then write them (the fix).
        TakeThenWrite,
    }

    async fn flush(buffer: &Mutex<Vec<u64>>, storage: &Storage, how: Flush) {
        match how {
            Flush::CopyThenClear => {
                let rows = buffer.lock().unwrap().clone();
                storage.write(rows).await;
                buffer.lock().unwrap().clear(); // also drops what came in during the write
            }
            Flush::TakeThenWrite => {
                let rows = std::mem::take(&mut *buffer.lock().unwrap());
                storage.write(rows).await;
            }
        }
    }

    /// Ingests `batches` with one worker per batch and returns the storage once every
    /// worker is done and the flusher has written what was left.
    pub async fn ingest(batches: Vec<Vec<u64>>, how: Flush) -> Arc<Storage> {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let storage = Arc::new(Storage::default());
        let (stop, mut stopped) = oneshot::channel::<()>();

        let (b, s) = (buffer.clone(), storage.clone());
        let flusher = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(5));
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stopped => break,
                    _ = every.tick() => flush(&b, &s, how).await,
                }
            }
            flush(&b, &s, how).await; // what the workers left
        });

        let mut workers = JoinSet::new();
        for batch in batches {
            let b = buffer.clone();
            workers.spawn(async move {
                for record in batch {
                    tokio::time::sleep(Duration::from_millis(5)).await; // parse the record
                    b.lock().unwrap().push(record);
                }
            });
        }
        while let Some(done) = workers.join_next().await {
            done.expect("a worker failed");
        }
        let _ = stop.send(());
        flusher.await.expect("the flusher failed");
        storage
    }
}

fn batches() -> Vec<Vec<u64>> {
    vec![vec![1, 2, 3], vec![10, 20]]
}

/// One run of each flush on plain tokio (outside a kit run everything goes to tokio):
/// prints how many records reached storage. One schedule says little either way; the
/// tests explore.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let batches = batches();
    let ingested = batches.iter().flatten().count();
    for how in [service::Flush::CopyThenClear, service::Flush::TakeThenWrite] {
        let storage = service::ingest(batches.clone(), how).await;
        let stored = storage.rows.lock().unwrap().len();
        println!("{how:?}: {stored} of {ingested} records stored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_testkit::{Builder, FailureKind};
    use service::Flush;

    /// The check every test makes: every record ingested reached storage, once.
    fn check(batches: &[Vec<u64>], storage: &service::Storage) {
        let mut expected: Vec<u64> = batches.iter().flatten().copied().collect();
        let mut written = storage.rows.lock().unwrap().clone();
        expected.sort_unstable();
        written.sort_unstable();
        assert_eq!(
            written,
            expected,
            "lost records: storage has {} of the {} records ingested",
            written.len(),
            expected.len()
        );
    }

    async fn ingest_and_check(how: Flush) {
        let batches = batches();
        let storage = service::ingest(batches.clone(), how).await;
        check(&batches, &storage);
    }

    fn explore(how: Flush) -> Result<async_testkit::Report<()>, async_testkit::Failure> {
        Builder::new()
            .name("ingest")
            .explore(1000)
            .try_run(move || ingest_and_check(how))
    }

    /// One schedule (the kit's FIFO, like the run on plain tokio in `main`) loses no
    /// record: the race needs another order.
    #[test]
    fn one_schedule_does_not_show_the_race() {
        let once = Builder::new()
            .name("ingest")
            .try_run(|| ingest_and_check(Flush::CopyThenClear));
        if let Err(f) = once {
            panic!("FIFO lost records:\n{f}");
        }
    }

    #[test]
    fn exploring_finds_the_records_the_flush_loses() {
        let f = explore(Flush::CopyThenClear).expect_err("the race is found");
        assert_eq!(f.kind(), FailureKind::Panic, "{f}");
        let first = f.panic_messages().first().cloned().unwrap_or_default();
        assert!(first.contains("lost records: storage has "), "{f}");
        // A worker's append lands inside the flusher's write: one choice against FIFO.
        assert_eq!(f.schedule().preemptions(), 1, "{f}");
    }

    #[test]
    fn the_fixed_flush_passes_the_same_exploration() {
        let report = explore(Flush::TakeThenWrite).unwrap_or_else(|f| panic!("the fixed flush failed:\n{f}"));
        // The workers and the flusher were all kit tasks: their order was explored.
        assert_eq!(report.tokio_tasks(), 0);
    }
}
