//! tower's middleware on virtual time: every timer is tokio's, so every timing is exact.

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_testkit::time::elapsed;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt, service_fn};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A service that answers after `delay`, recording the virtual time each call starts.
fn slow_echo(
    delay: Duration,
    starts: Arc<Mutex<Vec<Duration>>>,
) -> impl Service<
    u32,
    Response = u32,
    Error = Infallible,
    Future = impl Future<Output = Result<u32, Infallible>> + Send,
> + Clone
+ Send {
    service_fn(move |req: u32| {
        starts.lock().unwrap().push(elapsed());
        async move {
            tokio::time::sleep(delay).await;
            Ok::<_, Infallible>(req)
        }
    })
}

#[async_testkit::test]
async fn timeout_fires_at_its_deadline_and_not_before() {
    let starts = Arc::new(Mutex::new(Vec::new()));
    let mut svc = ServiceBuilder::new()
        .timeout(ms(250))
        .service(slow_echo(ms(250), starts.clone()));
    // Done exactly at the deadline: tower polls the inner future first, so it is in time.
    assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), 1);
    assert_eq!(elapsed(), ms(250));

    let mut svc = ServiceBuilder::new()
        .timeout(ms(100))
        .service(slow_echo(ms(250), starts));
    let err: BoxError = svc.ready().await.unwrap().call(2).await.unwrap_err();
    assert!(err.is::<tower::timeout::error::Elapsed>(), "{err}");
    assert_eq!(err.to_string(), "request timed out");
    assert_eq!(elapsed(), ms(350));
}

/// Retries twice, sleeping 100 ms then 200 ms before each new attempt.
#[derive(Clone)]
struct Backoff {
    delays: Vec<Duration>,
}

impl<Req: Clone, Res, E> tower::retry::Policy<Req, Res, E> for Backoff {
    type Future = tokio::time::Sleep;

    fn retry(&mut self, _req: &mut Req, result: &mut Result<Res, E>) -> Option<Self::Future> {
        if result.is_ok() || self.delays.is_empty() {
            return None;
        }
        Some(tokio::time::sleep(self.delays.remove(0)))
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}

#[async_testkit::test]
async fn retry_with_backoff_tries_at_exact_instants() {
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let log = attempts.clone();
    let flaky = service_fn(move |_req: ()| {
        let mut log = log.lock().unwrap();
        log.push(elapsed());
        let n = log.len();
        async move { if n < 3 { Err("busy") } else { Ok(n) } }
    });
    let svc = ServiceBuilder::new()
        .retry(Backoff {
            delays: vec![ms(100), ms(200)],
        })
        .service(flaky);
    assert_eq!(svc.oneshot(()).await, Ok(3));
    assert_eq!(*attempts.lock().unwrap(), [ms(0), ms(100), ms(300)]);
}

#[async_testkit::test]
async fn retry_gives_up_with_the_last_error() {
    let flaky = service_fn(|_req: ()| async { Err::<(), _>("still busy") });
    let svc = ServiceBuilder::new()
        .retry(Backoff {
            delays: vec![ms(100), ms(200)],
        })
        .service(flaky);
    assert_eq!(svc.oneshot(()).await, Err("still busy"));
    assert_eq!(elapsed(), ms(300));
}

#[async_testkit::test]
async fn rate_limit_spaces_calls_by_its_period() {
    let starts = Arc::new(Mutex::new(Vec::new()));
    let mut svc = ServiceBuilder::new()
        .rate_limit(2, ms(1000))
        .service(slow_echo(ms(0), starts.clone()));
    for i in 0..5 {
        svc.ready().await.unwrap().call(i).await.unwrap();
    }
    // Two calls a period: the window restarts at each period's first call.
    assert_eq!(
        *starts.lock().unwrap(),
        [ms(0), ms(0), ms(1000), ms(1000), ms(2000)]
    );
}

/// Calls `svc` with `0..n` from `n` tasks spawned at once; each gets its own number back.
async fn call_at_once<S>(svc: &S, n: u32)
where
    S: Service<u32, Response = u32> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: std::fmt::Debug + Send,
{
    let calls: Vec<_> = (0..n)
        .map(|i| async_testkit::spawn(svc.clone().oneshot(i)))
        .collect();
    for (i, call) in (0..n).zip(calls) {
        assert_eq!(call.await.unwrap().unwrap(), i);
    }
}

#[async_testkit::test]
async fn concurrency_limit_runs_two_at_a_time() {
    let starts = Arc::new(Mutex::new(Vec::new()));
    let svc = ServiceBuilder::new()
        .concurrency_limit(2)
        .service(slow_echo(ms(100), starts.clone()));
    call_at_once(&svc, 5).await;
    assert_eq!(*starts.lock().unwrap(), [ms(0), ms(0), ms(100), ms(100), ms(200)]);
    assert_eq!(elapsed(), ms(300));
}

#[async_testkit::test]
async fn buffer_serves_callers_in_order_and_its_worker_ends_with_the_last_handle() {
    let starts = Arc::new(Mutex::new(Vec::new()));
    // The buffer's worker is a `tokio::spawn`ed task; with `concurrency_limit(1)` under it
    // the calls run one after the other.
    let svc = ServiceBuilder::new()
        .buffer(8)
        .concurrency_limit(1)
        .service(slow_echo(ms(50), starts.clone()));
    call_at_once(&svc, 3).await;
    assert_eq!(*starts.lock().unwrap(), [ms(0), ms(50), ms(100)]);
    // Dropping the last handle ends the worker: the leak oracle has nothing to report.
    drop(svc);
}

#[test]
fn a_buffer_handle_kept_past_the_test_leaks_its_worker() {
    let outcome = async_testkit::Builder::new().try_run(|| async {
        let starts = Arc::new(Mutex::new(Vec::new()));
        let svc = ServiceBuilder::new().buffer(8).service(slow_echo(ms(50), starts));
        call_at_once(&svc, 1).await;
        svc // still alive when the body returns, and so is the buffer's worker
    });
    let Err(failure) = outcome else {
        panic!("the buffer's worker leaked unseen")
    };
    assert_eq!(failure.kind(), async_testkit::FailureKind::Leak);
    assert_eq!(
        failure.headline(),
        "leak: 1 task started with tokio::spawn was still alive when the test body returned"
    );
}
