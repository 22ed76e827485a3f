//! A client with a per-request timeout, retries and an overall deadline, tested against
//! a service that answers fast, slowly, never, or just in time: all on virtual time, so
//! the whole suite of minutes-long scenarios runs in milliseconds.
//!
//! Run the demo with `cargo run --example timeouts`, the tests with
//! `cargo test --example timeouts`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use tokio::time::Instant;

/// How the fake service behaves on each call, in order (the last one repeats).
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    /// Answers after this long.
    After(Duration),
    /// Never answers.
    Never,
}

/// A service the client calls; it records when each call started (virtual time).
pub struct Service {
    script: Vec<Answer>,
    calls: RefCell<Vec<Duration>>,
    started: Instant,
}

impl Service {
    pub fn new(script: impl IntoIterator<Item = Answer>) -> Rc<Self> {
        Rc::new(Service {
            script: script.into_iter().collect(),
            calls: RefCell::new(Vec::new()),
            started: Instant::now(),
        })
    }

    pub async fn call(&self, request: u32) -> u32 {
        let n = {
            let mut calls = self.calls.borrow_mut();
            calls.push(self.started.elapsed());
            calls.len()
        };
        match self.script[(n - 1).min(self.script.len() - 1)] {
            Answer::After(d) => {
                tokio::time::sleep(d).await;
                request * 2
            }
            Answer::Never => std::future::pending().await,
        }
    }

    /// When each call started, since the service was made.
    pub fn calls(&self) -> Vec<Duration> {
        self.calls.borrow().clone()
    }
}

/// Why the client gave up.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The overall deadline passed (after this many attempts).
    DeadlineExceeded { attempts: u32 },
}

/// The code under test: each attempt gets `per_request`, all of them together get
/// `overall`; an attempt that times out is retried at once.
pub struct Client {
    pub per_request: Duration,
    pub overall: Duration,
}

impl Client {
    pub async fn fetch(&self, service: &Service, request: u32) -> Result<u32, ClientError> {
        let deadline = Instant::now() + self.overall;
        let mut attempts = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(ClientError::DeadlineExceeded { attempts });
            }
            attempts += 1;
            let limit = self.per_request.min(remaining);
            if let Ok(answer) = tokio::time::timeout(limit, service.call(request)).await {
                return Ok(answer);
            }
        }
    }
}

/// The client the demo and the tests use: 2 s per request, 5 s in all.
pub const CLIENT: Client = Client {
    per_request: Duration::from_secs(2),
    overall: Duration::from_secs(5),
};

fn main() {
    for (name, script) in [
        ("fast", vec![Answer::After(Duration::from_millis(300))]),
        ("just in time", vec![Answer::After(Duration::from_secs(2))]),
        (
            "slow, then fast",
            vec![
                Answer::After(Duration::from_secs(9)),
                Answer::After(Duration::from_secs(1)),
            ],
        ),
        ("never", vec![Answer::Never]),
    ] {
        let (result, took, calls) = async_testkit::run(async move {
            let service = Service::new(script);
            let result = CLIENT.fetch(&service, 21).await;
            (result, async_testkit::time::elapsed(), service.calls())
        });
        println!("{name:>16}: {result:?} after {took:?} of virtual time, calls started at {calls:?}");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_testkit::{assert_completes_within, assert_elapsed, assert_pending_for, within};

    use super::{Answer, CLIENT, Client, ClientError, Service};

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[async_testkit::test]
    async fn a_fast_service_answers_on_the_first_attempt() {
        let service = Service::new([Answer::After(Duration::from_millis(300))]);
        let answer = assert_elapsed!(Duration::from_millis(300), { CLIENT.fetch(&service, 21).await });
        assert_eq!(answer, Ok(42));
        assert_eq!(service.calls(), [Duration::ZERO]);
    }

    #[async_testkit::test]
    async fn an_answer_exactly_at_the_per_request_timeout_is_taken() {
        // tokio's timeout polls the call before its own timer: an answer due at the same
        // instant wins.
        let service = Service::new([Answer::After(secs(2))]);
        assert_eq!(
            assert_elapsed!(secs(2), { CLIENT.fetch(&service, 1).await }),
            Ok(2)
        );
        assert_eq!(service.calls().len(), 1);
    }

    #[async_testkit::test]
    async fn an_answer_a_moment_too_late_is_retried() {
        let service = Service::new([
            Answer::After(secs(2) + Duration::from_millis(1)),
            Answer::After(secs(1)),
        ]);
        assert_eq!(CLIENT.fetch(&service, 5).await, Ok(10));
        assert_eq!(service.calls(), [Duration::ZERO, secs(2)]);
    }

    #[async_testkit::test]
    async fn a_slow_service_is_retried_until_the_overall_deadline() {
        let service = Service::new([Answer::After(secs(60))]);
        let result = assert_elapsed!(CLIENT.overall, { CLIENT.fetch(&service, 1).await });
        assert_eq!(result, Err(ClientError::DeadlineExceeded { attempts: 3 }));
        // Attempts at +0s and +2s get 2s each; the third gets the 1s that is left.
        assert_eq!(service.calls(), [Duration::ZERO, secs(2), secs(4)]);
    }

    #[async_testkit::test]
    async fn a_silent_service_does_not_make_the_client_give_up_early() {
        let service = Service::new([Answer::Never]);
        // Still trying a millisecond (a tick of tokio's timers) before the deadline ...
        let fetch = assert_pending_for!(
            CLIENT.fetch(&service, 1),
            CLIENT.overall - Duration::from_millis(1)
        );
        // ... and done right at it.
        let result = assert_completes_within!(fetch, Duration::from_millis(1));
        assert_eq!(result, Err(ClientError::DeadlineExceeded { attempts: 3 }));
    }

    #[async_testkit::test]
    async fn whatever_the_service_does_the_client_keeps_its_overall_deadline() {
        for script in [
            vec![Answer::Never],
            vec![Answer::After(secs(3)), Answer::Never],
            vec![Answer::After(secs(2))],
            vec![
                Answer::Never,
                Answer::Never,
                Answer::After(Duration::from_millis(999)),
            ],
        ] {
            let service = Service::new(script.clone());
            let outcome = within(CLIENT.overall, CLIENT.fetch(&service, 1)).await;
            assert!(outcome.is_ok(), "{script:?}: {}", outcome.unwrap_err());
        }
    }

    #[async_testkit::test]
    async fn the_third_attempt_gets_only_the_time_that_is_left() {
        // Answers in 999ms on the third call: inside the 1s left, so it succeeds at +4.999s.
        let service = Service::new([
            Answer::Never,
            Answer::Never,
            Answer::After(Duration::from_millis(999)),
        ]);
        assert_eq!(CLIENT.fetch(&service, 4).await, Ok(8));
        assert_eq!(async_testkit::time::elapsed(), Duration::from_millis(4999));
    }

    #[test]
    fn a_client_that_ignored_its_deadline_would_be_caught() {
        // Without the overall deadline the client retries forever: `within` says so, with
        // where the deadline was set and what was still pending.
        let failure = async_testkit::Builder::new()
            .try_run(|| async {
                let greedy = Client {
                    per_request: secs(2),
                    overall: secs(3600),
                };
                let service = Service::new([Answer::Never]);
                let _ = within(secs(10), greedy.fetch(&service, 1)).await.unwrap();
            })
            .unwrap_err();
        let text = failure.to_string();
        assert!(
            text.contains("timed out: the future was still pending at its deadline +10.000s"),
            "{text}"
        );
    }
}
