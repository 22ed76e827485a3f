//! A client with retries, a per-attempt timeout, a circuit breaker and a concurrency
//! limit, tested against an `AsyncMock` backend on virtual time.
//!
//! Run the tests with `cargo test --example mock_service`; run the tour with
//! `cargo run --example mock_service`.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use async_testkit::mock::AsyncMock;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Why the backend refused a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendError {
    /// The backend is overloaded; try again later.
    Unavailable,
}

/// The dependency the client talks to.
pub trait Backend {
    /// Fetches the record `id`.
    fn fetch(&self, id: u32) -> impl Future<Output = Result<String, BackendError>>;
}

/// In the tests the backend is a mock: the client cannot tell.
impl Backend for AsyncMock<u32, Result<String, BackendError>> {
    fn fetch(&self, id: u32) -> impl Future<Output = Result<String, BackendError>> {
        self.call(id)
    }
}

/// Why the client gave up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// Every attempt failed or timed out.
    GaveUp { attempts: u32 },
    /// The circuit breaker is open: the backend was not asked.
    CircuitOpen,
}

/// The client's policy.
pub const ATTEMPTS: u32 = 3;
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
pub const BREAKER_THRESHOLD: u32 = 3;
pub const BREAKER_COOL_DOWN: Duration = Duration::from_secs(30);
pub const MAX_CONCURRENT: usize = 4;

#[derive(Default)]
struct Breaker {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

/// Retries with exponential backoff (100 ms, 200 ms), bounds each attempt by a timeout,
/// opens a circuit breaker after 3 failed attempts in a row (for 30 s), and sends at
/// most 4 requests to the backend at once.
pub struct Client<B> {
    backend: B,
    breaker: Mutex<Breaker>,
    limit: Semaphore,
}

impl<B: Backend> Client<B> {
    pub fn new(backend: B) -> Self {
        Client {
            backend,
            breaker: Mutex::new(Breaker::default()),
            limit: Semaphore::new(MAX_CONCURRENT),
        }
    }

    pub async fn get(&self, id: u32) -> Result<String, ClientError> {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            if self.circuit_open() {
                return Err(ClientError::CircuitOpen);
            }
            let outcome = {
                let _permit = self.limit.acquire().await.expect("the semaphore is never closed");
                tokio::time::timeout(ATTEMPT_TIMEOUT, self.backend.fetch(id)).await
            };
            match outcome {
                Ok(Ok(value)) => {
                    self.record(true);
                    return Ok(value);
                }
                Ok(Err(BackendError::Unavailable)) | Err(_) => self.record(false),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Err(ClientError::GaveUp { attempts: ATTEMPTS })
    }

    fn circuit_open(&self) -> bool {
        let mut b = self.breaker.lock().unwrap();
        match b.open_until {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                // Half-open: let one attempt through; one more failure opens it again.
                b.open_until = None;
                b.consecutive_failures = BREAKER_THRESHOLD - 1;
                false
            }
            None => false,
        }
    }

    fn record(&self, success: bool) {
        let mut b = self.breaker.lock().unwrap();
        if success {
            b.consecutive_failures = 0;
        } else {
            b.consecutive_failures += 1;
            if b.consecutive_failures >= BREAKER_THRESHOLD {
                b.open_until = Some(Instant::now() + BREAKER_COOL_DOWN);
            }
        }
    }
}

fn main() {
    // A short tour: three flaky answers, then success, all in virtual time.
    let (value, elapsed) = async_testkit::run(async {
        let backend = AsyncMock::<u32, Result<String, BackendError>>::named("backend")
            .returns_seq([Err(BackendError::Unavailable), Err(BackendError::Unavailable)])
            .returns(Ok("record 7".to_string()));
        let client = Client::new(backend.clone());
        let value = client.get(7).await;
        println!("{}", backend.log_table());
        (value, async_testkit::time::elapsed())
    });
    println!("got {value:?} after {elapsed:?} of virtual time");
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_testkit::mock::Outcome;

    use super::*;

    type Mock = AsyncMock<u32, Result<String, BackendError>>;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn started(mock: &Mock) -> Vec<Duration> {
        mock.calls().iter().map(|c| c.started()).collect()
    }

    #[async_testkit::test]
    async fn retries_happen_at_exact_virtual_times() {
        let backend = Mock::named("backend")
            .returns_seq([Err(BackendError::Unavailable), Err(BackendError::Unavailable)])
            .returns(Ok("v".into()));
        let client = Client::new(backend.clone());
        assert_eq!(client.get(7).await, Ok("v".to_string()));
        assert_eq!(started(&backend), [ms(0), ms(100), ms(300)]);
        backend.assert_called_times(3);
        backend.assert_called_with(7);
    }

    #[async_testkit::test]
    async fn retry_backoff_adds_to_the_backend_latency() {
        let backend = Mock::named("backend").returns_after(ms(250), Err(BackendError::Unavailable));
        let client = Client::new(backend.clone());
        assert_eq!(client.get(1).await, Err(ClientError::GaveUp { attempts: 3 }));
        // 250 ms call, 100 ms backoff, 250 ms call, 200 ms backoff, 250 ms call.
        assert_eq!(started(&backend), [ms(0), ms(350), ms(800)]);
        assert_eq!(async_testkit::time::elapsed(), ms(1050));
    }

    #[async_testkit::test]
    async fn a_stuck_attempt_is_cancelled_by_the_timeout_and_retried() {
        let backend = Mock::named("backend").returns(Ok("late but fine".into()));
        let gate = backend.gate();
        let client = Arc::new(Client::new(backend.clone()));
        let request = async_testkit::spawn({
            let client = client.clone();
            async move { client.get(9).await }
        });
        gate.entered().await; // the first attempt is stuck at the gate
        gate.entered().await; // ... cancelled at 1 s; the retry arrives at 1.1 s
        assert_eq!(async_testkit::time::elapsed(), ms(1100));
        gate.release();
        assert_eq!(request.await.unwrap(), Ok("late but fine".to_string()));

        backend.assert_cancelled_times(1);
        let first = &backend.calls()[0];
        assert_eq!(
            (first.outcome(), first.ended()),
            (Outcome::Cancelled, Some(ms(1000)))
        );
        assert_eq!(backend.calls()[1].outcome(), Outcome::Completed);
    }

    #[async_testkit::test]
    async fn the_circuit_breaker_opens_then_lets_one_trial_through() {
        let backend = Mock::named("backend").fails(BackendError::Unavailable);
        let client = Client::new(backend.clone());
        assert_eq!(client.get(1).await, Err(ClientError::GaveUp { attempts: 3 }));
        // Open now: the backend is not asked.
        assert_eq!(client.get(2).await, Err(ClientError::CircuitOpen));
        backend.assert_called_times(3);

        tokio::time::sleep(BREAKER_COOL_DOWN).await;
        backend.returns(Ok("back".into()));
        assert_eq!(client.get(3).await, Ok("back".to_string()));
        backend.assert_called_times(4);
        assert_eq!(backend.calls()[3].started(), ms(300) + BREAKER_COOL_DOWN);
    }

    #[async_testkit::test]
    async fn no_more_than_four_requests_reach_the_backend_at_once() {
        let backend = Mock::named("backend").returns_after(Duration::from_secs(1), Ok("ok".into()));
        let client = Arc::new(Client::new(backend.clone()));
        let requests: Vec<_> = (0..10)
            .map(|id| {
                let client = client.clone();
                async_testkit::spawn(async move { client.get(id).await })
            })
            .collect();
        for r in requests {
            assert_eq!(r.await.unwrap(), Ok("ok".to_string()));
        }
        backend.assert_max_in_flight(MAX_CONCURRENT);
        // Ten one-second calls, four at a time: three rounds.
        assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(3));
    }
}
