//! `#[async_testkit::test]` end to end: options, return types, failures through the
//! attribute, and a test stuck in a blocking call.

use std::time::Duration;

use async_testkit::{task, time};

#[async_testkit::test]
async fn a_plain_test_runs_on_virtual_time() {
    tokio::time::sleep(Duration::from_secs(1800)).await;
    assert_eq!(time::elapsed(), Duration::from_secs(1800));
}

#[async_testkit::test(virtual_timeout = "3h")]
async fn options_reach_the_runtime() {
    tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
}

#[async_testkit::test(clock = "manual", seed = 5, strategy = "random", leaks = "warn", io = false)]
async fn every_option_at_once() {
    assert_eq!(async_testkit::seed(), 5);
    async_testkit::spawn(std::future::pending::<()>()); // a leak, but only a warning
    time::advance(Duration::from_secs(1)).await;
    assert_eq!(time::elapsed(), Duration::from_secs(1));
}

#[async_testkit::test(explore = 25)]
async fn explore_runs_the_body_per_schedule() {
    let h = async_testkit::spawn(async { 1 });
    assert_eq!(h.await.unwrap(), 1);
}

#[async_testkit::test(strategy = "pct2", explore = 30)]
async fn exploring_with_a_named_strategy() {
    let h = async_testkit::spawn(async { 2 });
    async_testkit::yield_point().await;
    assert_eq!(h.await.unwrap(), 2);
}

/// A lost update the first schedule of PCT with yields lowering finds.
#[async_testkit::test(strategy = "pcty", explore = 5)]
#[should_panic(expected = "lost update: 1")]
async fn pct_with_yields_lowering_from_the_attribute() {
    let n = std::rc::Rc::new(std::cell::Cell::new(0));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let n = n.clone();
            async_testkit::spawn(async move {
                let read = n.get();
                async_testkit::yield_point().await;
                n.set(read + 1);
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(n.get(), 2, "lost update: {}", n.get());
}

#[async_testkit::test(explore_for = "20ms", strategy = "dfs(1)")]
async fn exploring_for_a_time_budget() {
    let h = async_testkit::spawn(async {});
    async_testkit::yield_point().await;
    h.await.unwrap();
}

#[async_testkit::test(explore = 200)]
#[should_panic(expected = "minimised to 1 preemption")]
async fn an_exploring_test_reports_its_minimal_schedule() {
    let t = task::Builder::new().name("setter").spawn(async {});
    async_testkit::yield_point().await;
    assert!(t.is_finished(), "the setter had not run yet");
    t.await.unwrap();
}

#[async_testkit::test]
async fn a_test_may_return_a_result() -> Result<(), std::num::ParseIntError> {
    let n: u32 = "42".parse()?;
    assert_eq!(n, 42);
    Ok(())
}

#[async_testkit::test]
#[should_panic(expected = "async-testkit: the test body returned Err(ParseIntError { kind: InvalidDigit })")]
async fn an_error_result_fails_the_test() -> Result<(), std::num::ParseIntError> {
    let _n: u32 = "forty-two".parse()?;
    Ok(())
}

#[async_testkit::test]
#[should_panic(expected = "deadlock: every task is waiting and no timer is pending")]
async fn a_deadlock_fails_the_attributed_test() {
    let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
    let _ = rx.await;
}

#[async_testkit::test]
#[should_panic(
    expected = "replay: ASYNC_TESTKIT_SEED=0 cargo test -- --exact a_failure_names_this_test_in_its_replay_line"
)]
async fn a_failure_names_this_test_in_its_replay_line() {
    panic!("boom");
}

#[async_testkit::test]
#[should_panic(expected = "leak: 1 task was still alive when the test body returned: #1 \"left behind\"")]
async fn a_leak_fails_the_attributed_test() {
    task::Builder::new()
        .name("left behind")
        .spawn(std::future::pending::<()>());
}

#[async_testkit::test(timeout = "100ms")]
#[should_panic(expected = "is stuck inside one poll of task #1 \"sleeper\"")]
async fn a_test_stuck_in_a_blocking_call_fails_and_the_suite_goes_on() {
    task::Builder::new()
        .name("sleeper")
        .spawn(async { std::thread::sleep(Duration::from_secs(5)) })
        .await
        .unwrap();
}

/// Runs only in a child process (see the next test): a run on the caller's thread that
/// gets stuck ends the process, since a stuck thread cannot be stopped.
#[test]
fn stuck_child() {
    if std::env::var_os("ASYNC_TESTKIT_STUCK_CHILD").is_none() {
        return;
    }
    async_testkit::Builder::new()
        .timeout(Duration::from_millis(100))
        .run(|| async {
            task::Builder::new()
                .name("spinner")
                .spawn(async { std::thread::sleep(Duration::from_secs(30)) })
                .await
                .unwrap();
        });
}

/// Runs `stuck_child` in a child process (with libtest's `extra` arguments) and returns
/// its stderr, once it has exited with status 101.
fn stuck_child_stderr(extra: &[&str]) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "stuck_child", "--test-threads=1"])
        .args(extra)
        .env("ASYNC_TESTKIT_STUCK_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    stderr
}

#[test]
fn a_run_stuck_on_the_callers_thread_ends_the_process_with_the_report() {
    let stderr = stuck_child_stderr(&["--nocapture"]);
    assert!(
        stderr.contains("async-testkit: wall-clock timeout in stuck_child"),
        "{stderr}"
    );
    assert!(
        stderr.contains("is stuck inside one poll of task #1 \"spinner\" (spawned at tests/attribute.rs:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Move blocking work to\ntokio::task::spawn_blocking"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the test process exits now (status 101)"),
        "{stderr}"
    );
}

/// libtest captures what a test prints (and what the threads it starts print) and shows
/// it only when the test ends: the report of a run that ends the process must bypass the
/// capture, or the person sees only "error: test failed".
#[test]
fn a_run_stuck_on_the_callers_thread_reports_under_libtest_s_capture() {
    let stderr = stuck_child_stderr(&[]);
    assert!(
        stderr.contains("async-testkit: wall-clock timeout in stuck_child"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the test process exits now (status 101)"),
        "{stderr}"
    );
}

#[async_testkit::test(timeout = "100ms")]
#[should_panic(expected = "is stuck inside tokio's own scheduler: a task started with tokio::spawn")]
async fn a_test_stuck_in_a_tokio_task_names_tokio_s_scheduler() {
    tokio::spawn(async { std::thread::sleep(Duration::from_secs(5)) })
        .await
        .unwrap();
}

/// `timeout` is for the whole test: 40 schedules of 100 ms each are past a 300 ms limit.
#[async_testkit::test(explore = 40, timeout = "300ms")]
#[should_panic(
    expected = "wall-clock timeout: the exploration ran longer than the test's limit of 300ms of real time; "
)]
async fn an_exploring_test_is_bounded_by_its_timeout() {
    tokio::task::spawn_blocking(|| std::thread::sleep(std::time::Duration::from_millis(100)))
        .await
        .unwrap();
}

/// tokio's options that the kit always honours are accepted: a migration from
/// `#[tokio::test(flavor = "current_thread", start_paused = true)]` is a rename.
#[async_testkit::test(flavor = "current_thread", start_paused = true)]
async fn tokio_s_runtime_options_are_accepted() {
    let start = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(3600));
}

/// The kit reached through another path, as with a renamed dependency.
mod renamed {
    pub use async_testkit::*;
}

#[async_testkit::test(crate = "crate::renamed", seed = 4)]
async fn the_crate_option_reaches_the_kit_by_its_path() {
    assert_eq!(async_testkit::time::elapsed(), Duration::ZERO);
}
