//! tokio-util: cancellation, delay queues and task trackers on virtual time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_testkit::time::elapsed;
use async_testkit::{Builder, FailureKind};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::time::DelayQueue;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A worker ticking every 100 ms until `token` is cancelled; returns its tick count.
async fn worker(token: CancellationToken) -> u32 {
    let mut ticks = 0;
    loop {
        tokio::select! {
            _ = token.cancelled() => return ticks,
            _ = tokio::time::sleep(ms(100)) => ticks += 1,
        }
    }
}

#[async_testkit::test]
async fn cancellation_token_shuts_every_worker_down_with_no_task_left() {
    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    let workers: Vec<_> = (0..3)
        .map(|_| tracker.spawn(worker(token.child_token())))
        .collect();
    tokio::time::sleep(ms(1050)).await;
    token.cancel();
    tracker.close();
    tracker.wait().await;
    assert_eq!(elapsed(), ms(1050), "shutdown takes no virtual time");
    for w in workers {
        assert_eq!(w.await.unwrap(), 10);
    }
    // Nothing is left running: the leak oracle passes this test.
}

#[test]
fn a_worker_that_ignores_the_token_is_reported_as_a_leak() {
    let failure = Builder::new()
        .try_run(|| async {
            let token = CancellationToken::new();
            let _ignores = async_testkit::task::Builder::new()
                .name("deaf worker")
                .spawn(async {
                    loop {
                        tokio::time::sleep(ms(100)).await;
                    }
                });
            let listens = async_testkit::spawn(worker(token.clone()));
            tokio::time::sleep(ms(250)).await;
            token.cancel();
            assert_eq!(listens.await.unwrap(), 2);
        })
        .unwrap_err();
    assert_eq!(failure.kind(), FailureKind::Leak);
    assert_eq!(failure.leaked_tasks().len(), 1, "{failure}");
    assert!(failure.leaked_tasks()[0].contains("\"deaf worker\""), "{failure}");
    assert!(failure.headline().contains("leak"), "{}", failure.headline());
}

#[async_testkit::test]
async fn delay_queue_yields_items_in_deadline_order_at_their_instants() {
    let mut queue = DelayQueue::new();
    queue.insert("c", ms(300));
    queue.insert("a", ms(100));
    let b = queue.insert("b", ms(200));
    queue.insert("d", ms(300));
    queue.reset(&b, ms(250));
    let mut popped = Vec::new();
    while let Some(expired) = std::future::poll_fn(|cx| queue.poll_expired(cx)).await {
        popped.push((expired.into_inner(), elapsed()));
    }
    assert_eq!(
        popped,
        [("a", ms(100)), ("b", ms(250)), ("c", ms(300)), ("d", ms(300))]
    );
}

#[async_testkit::test]
async fn task_tracker_waits_for_the_slowest_task() {
    let tracker = TaskTracker::new();
    let finished = Arc::new(Mutex::new(Vec::new()));
    for (name, delay) in [("slow", 300), ("fast", 100), ("mid", 200)] {
        let finished = finished.clone();
        tracker.spawn(async move {
            tokio::time::sleep(ms(delay)).await;
            finished.lock().unwrap().push((name, elapsed()));
        });
    }
    assert_eq!(tracker.len(), 3);
    tracker.close();
    tracker.wait().await;
    assert!(tracker.is_empty());
    assert_eq!(
        *finished.lock().unwrap(),
        [("fast", ms(100)), ("mid", ms(200)), ("slow", ms(300))]
    );
}
