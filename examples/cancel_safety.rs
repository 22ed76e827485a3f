//! A queue consumer that loses a message when it is cancelled between receiving it and
//! acknowledging it, found by `check_cancel_safety`; and its fixed twin, which passes.
//!
//! The consumer runs in a `select!` loop with a shutdown signal, the common shape of a
//! worker: cancellation is not exotic, it is every shutdown, every timeout around the
//! call, every losing `select!` branch.
//!
//! Run the demo with `cargo run --example cancel_safety`, the tests with
//! `cargo test --example cancel_safety`.

use std::time::Duration;

use async_testkit::cancel::{CancelSafety, check_cancel_safety};
use tokio::sync::{mpsc, watch};

/// A job from the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job(pub u32);

/// The consumer's world: the queue it reads, the shutdown signal, and what it has
/// acknowledged (the job's effects are durable once it is acknowledged).
pub struct Consumer {
    pub queue: mpsc::Receiver<Job>,
    pub shutdown: watch::Receiver<bool>,
    pub acked: Vec<Job>,
    /// The fixed consumer keeps a received, unacknowledged job here: a drop leaves it in
    /// the state, and the next run picks it up again.
    pub in_hand: Option<Job>,
    /// Kept so the shutdown channel stays open.
    pub shutdown_tx: watch::Sender<bool>,
}

impl Consumer {
    /// A consumer with `jobs` waiting in its queue.
    pub fn with_jobs(jobs: u32) -> Self {
        let (tx, rx) = mpsc::channel(16);
        for n in 1..=jobs {
            tx.try_send(Job(n)).expect("the queue has room");
        }
        let (shutdown_tx, shutdown) = watch::channel(false);
        Consumer {
            queue: rx,
            shutdown,
            acked: Vec::new(),
            in_hand: None,
            shutdown_tx,
        }
    }

    /// Processing takes a while (a write to a store, a call to a service).
    async fn process(job: &Job) {
        tokio::time::sleep(Duration::from_millis(100 * u64::from(job.0))).await;
    }

    /// The buggy consumer: between `recv` and the acknowledgement, the job lives only in a
    /// local variable, so a drop at the processing `.await` loses it.
    pub async fn run_buggy(&mut self) {
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => return,
                job = self.queue.recv() => {
                    let Some(job) = job else { return };
                    Self::process(&job).await;
                    self.acked.push(job);
                }
            }
            if self.queue.is_empty() {
                return;
            }
        }
    }

    /// The fixed consumer: the job is put in the state before the `.await`, and taken out
    /// only when it is acknowledged; a new run finishes a job left in hand first.
    pub async fn run_fixed(&mut self) {
        loop {
            if self.in_hand.is_none() {
                tokio::select! {
                    biased;
                    _ = self.shutdown.changed() => return,
                    job = self.queue.recv() => match job {
                        Some(job) => self.in_hand = Some(job),
                        None => return,
                    },
                }
            }
            let job = self.in_hand.as_ref().expect("a job in hand");
            Self::process(job).await;
            self.acked.extend(self.in_hand.take());
            if self.queue.is_empty() {
                return;
            }
        }
    }

    /// The invariant: every job is acknowledged, in hand, or still queued.
    pub fn nothing_lost(&mut self, jobs: u32) {
        let queued = self.queue.len();
        let in_hand = usize::from(self.in_hand.is_some());
        assert_eq!(
            self.acked.len() + in_hand + queued,
            jobs as usize,
            "a job was lost: acknowledged {:?}, in hand {:?}, {queued} still queued",
            self.acked,
            self.in_hand
        );
    }
}

const JOBS: u32 = 3;

/// Checks the buggy consumer (panics with the checker's report).
pub async fn check_buggy() -> CancelSafety {
    check_cancel_safety(
        || Consumer::with_jobs(JOBS),
        async |c: &mut Consumer| c.run_buggy().await,
        |c: &mut Consumer| c.nothing_lost(JOBS),
    )
    .await
}

/// Checks the fixed consumer.
pub async fn check_fixed() -> CancelSafety {
    check_cancel_safety(
        || Consumer::with_jobs(JOBS),
        async |c: &mut Consumer| c.run_fixed().await,
        |c: &mut Consumer| c.nothing_lost(JOBS),
    )
    .await
}

fn main() {
    match async_testkit::Builder::new()
        .name("buggy consumer")
        .try_run(check_buggy)
    {
        Ok(report) => println!("buggy consumer: {}", report.value()),
        Err(failure) => println!("buggy consumer: {}", failure.panic_messages()[0]),
    }
    println!();
    let fixed = async_testkit::run(check_fixed());
    println!("fixed consumer: {fixed}");
}

#[cfg(test)]
mod tests {
    use async_testkit::{Builder, FailureKind};

    use super::{Consumer, JOBS, check_buggy, check_fixed};

    #[test]
    fn the_checker_finds_the_lost_job_in_the_buggy_consumer() {
        let failure = Builder::new().try_run(check_buggy).unwrap_err();
        assert_eq!(failure.kind(), FailureKind::Panic);
        let message = &failure.panic_messages()[0];
        let first = message.lines().next().unwrap();
        assert!(
            first.ends_with(
                "the invariant broke when the operation was dropped at suspension point 1 of 3, at virtual time \
                 +0.600s"
            ),
            "{message}"
        );
        assert!(
            message.contains(
                "a job was lost: acknowledged [], in hand None, 2 still queued\n  left: 2\n right: 3\n"
            ),
            "{message}"
        );
        assert!(message.contains("\npoints tried: 1 of 3\n"), "{message}");
        assert!(message.contains("the operation was dropped here, at its suspension point 1"));
    }

    #[async_testkit::test]
    async fn the_fixed_consumer_is_cancel_safe_at_every_point() {
        let report = check_fixed().await;
        assert_eq!(report.points(), 3);
        assert_eq!(report.tried(), 3);
    }

    #[async_testkit::test]
    async fn both_consumers_do_the_same_work_when_not_cancelled() {
        let mut buggy = Consumer::with_jobs(JOBS);
        buggy.run_buggy().await;
        let mut fixed = Consumer::with_jobs(JOBS);
        fixed.run_fixed().await;
        assert_eq!(buggy.acked, fixed.acked);
        assert_eq!(async_testkit::time::elapsed().as_millis(), 1200);
    }

    #[async_testkit::test]
    async fn a_fixed_consumer_cancelled_mid_job_finishes_it_on_the_next_run() {
        let mut c = Consumer::with_jobs(JOBS);
        assert_eq!(async_testkit::cancel::at_poll(2, c.run_fixed()).await, None);
        assert_eq!(c.acked.len(), 1);
        assert!(c.in_hand.is_some());
        c.run_fixed().await;
        assert_eq!(c.acked.len(), 3);
        c.nothing_lost(JOBS);
    }

    #[async_testkit::test]
    async fn shutdown_stops_the_consumer_between_jobs() {
        let mut c = Consumer::with_jobs(JOBS);
        c.shutdown_tx.send(true).unwrap();
        c.run_fixed().await;
        assert!(c.acked.is_empty());
        c.nothing_lost(JOBS);
    }
}
