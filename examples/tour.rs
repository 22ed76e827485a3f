//! A tour of async-testkit: `cargo run --example tour`.
//!
//! Four small programs, each run the way `#[async_testkit::test]` runs a test:
//! 1. an exponential backoff that waits hours of virtual time in milliseconds;
//! 2. a deadlock, reported at once instead of hanging;
//! 3. a task leaked past the end of the test;
//! 4. a panic in a detached task, which plain tokio would swallow.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_testkit::{Builder, Failure, task, time};

/// A service that fails its first `failures` calls, then answers.
struct FlakyService {
    failures: u32,
    calls: RefCell<Vec<Duration>>,
}

impl FlakyService {
    async fn call(&self) -> Result<&'static str, &'static str> {
        self.calls.borrow_mut().push(time::elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await; // network latency
        if self.calls.borrow().len() as u32 <= self.failures {
            Err("503 Service Unavailable")
        } else {
            Ok("200 OK")
        }
    }
}

/// Retries with exponential backoff: 1 s, 2 s, 4 s, ... capped at 30 min.
async fn with_backoff(service: &FlakyService) -> &'static str {
    let mut delay = Duration::from_secs(1);
    loop {
        match service.call().await {
            Ok(answer) => return answer,
            Err(_) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30 * 60));
            }
        }
    }
}

/// 1. Sixteen failures before success: over three hours of waiting.
fn backoff() -> (Vec<Duration>, Duration) {
    Builder::new()
        .virtual_timeout(Duration::from_secs(6 * 3600))
        .run(|| async {
            let service = FlakyService {
                failures: 16,
                calls: RefCell::new(Vec::new()),
            };
            assert_eq!(with_backoff(&service).await, "200 OK");
            (service.calls.take(), time::elapsed())
        })
}

/// 2. Two transfers take two locks in opposite orders.
fn deadlock() -> Failure {
    Builder::new()
        .name("tour::deadlock")
        .try_run(|| async {
            let a = std::sync::Arc::new(tokio::sync::Mutex::new(100));
            let b = std::sync::Arc::new(tokio::sync::Mutex::new(100));
            let (a2, b2) = (a.clone(), b.clone());
            let t1 = task::Builder::new().name("transfer a->b").spawn(async move {
                let mut from = a2.lock().await;
                tokio::time::sleep(Duration::from_millis(10)).await;
                let mut to = b2.lock().await;
                *from -= 10;
                *to += 10;
            });
            let t2 = task::Builder::new().name("transfer b->a").spawn(async move {
                let mut from = b.lock().await;
                tokio::time::sleep(Duration::from_millis(10)).await;
                let mut to = a.lock().await;
                *from -= 10;
                *to += 10;
            });
            t1.await.unwrap();
            t2.await.unwrap();
        })
        .unwrap_err()
}

/// 3. A cache refresher is started and never stopped.
fn leak() -> Failure {
    Builder::new()
        .name("tour::leak")
        .try_run(|| async {
            let cache = Rc::new(RefCell::new(0u64));
            let c = cache.clone();
            task::Builder::new().name("cache refresher").spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    *c.borrow_mut() += 1;
                }
            });
            // Five refreshes happen by 5 min 30 s.
            tokio::time::sleep(Duration::from_secs(330)).await;
            assert_eq!(*cache.borrow(), 5);
        })
        .unwrap_err()
}

/// 4. A detached task panics; the body never looks at it.
fn detached_panic() -> Failure {
    Builder::new()
        .name("tour::detached_panic")
        .try_run(|| async {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(8);
            tokio::spawn(async move {
                while let Some(order) = rx.recv().await {
                    if order == 3 {
                        panic!("order {order}: price missing");
                    }
                }
            });
            for order in 1..=5 {
                let _ = tx.send(order).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .unwrap_err()
}

fn section(title: &str) {
    println!(
        "\n=== {title} {}",
        "=".repeat(70usize.saturating_sub(title.len()))
    );
}

fn main() {
    section("1. exponential backoff on virtual time");
    let wall = Instant::now();
    let (calls, elapsed) = backoff();
    for (i, at) in calls.iter().enumerate() {
        println!("  call {:>2} at {:>10.3} s virtual", i + 1, at.as_secs_f64());
    }
    println!(
        "  answered after {:.2} h of virtual time, in {:.1?} of real time",
        elapsed.as_secs_f64() / 3600.0,
        wall.elapsed()
    );

    for (title, failure) in [
        ("2. a deadlock, reported at once", deadlock()),
        ("3. a leaked task", leak()),
        ("4. a panic in a detached task", detached_panic()),
    ] {
        section(title);
        println!("{failure}");
    }
    section("end");
    println!("Each failure above is what `cargo test` prints for a failing #[async_testkit::test].");
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_testkit::FailureKind;

    #[test]
    fn backoff_waits_the_exact_virtual_delays() {
        let (calls, elapsed) = backoff();
        assert_eq!(calls.len(), 17);
        // Each call takes 50 ms, then the delay doubles from 1 s up to the 30 min cap.
        let mut expected = Duration::ZERO;
        let mut delay = Duration::from_secs(1);
        for at in &calls {
            assert_eq!(*at, expected);
            expected += Duration::from_millis(50) + delay;
            delay = (delay * 2).min(Duration::from_secs(1800));
        }
        assert_eq!(elapsed, *calls.last().unwrap() + Duration::from_millis(50));
        assert!(elapsed > Duration::from_secs(3 * 3600));
    }

    #[test]
    fn the_deadlock_is_reported_with_both_transfers() {
        let f = deadlock();
        assert_eq!(f.kind(), FailureKind::Deadlock);
        let text = f.to_string();
        assert!(
            text.contains("#1 \"transfer a->b\"") && text.contains("#2 \"transfer b->a\""),
            "{text}"
        );
    }

    #[test]
    fn the_leak_names_the_refresher() {
        let f = leak();
        assert_eq!(f.kind(), FailureKind::Leak);
        assert!(f.headline().contains("#1 \"cache refresher\""), "{f}");
    }

    #[test]
    fn the_detached_panic_fails_the_run() {
        let f = detached_panic();
        assert_eq!(f.kind(), FailureKind::Panic);
        assert_eq!(f.panic_messages(), ["order 3: price missing"]);
    }
}
