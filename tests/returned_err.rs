//! A test that returns `Result` fails when its body returns `Err` on any schedule, not
//! only on the last one: the `Err` is found, minimised and reported with its replay
//! token, as a panic is.
//!
//! Each failing test below is a `#[should_panic]` test, and a plain test calls it again
//! to read its whole report.

use std::cell::Cell;

use async_testkit::task;

/// Runs a failing `#[async_testkit::test]` and returns its report (the panic's text).
fn report_of(test: fn()) -> String {
    let payload = std::panic::catch_unwind(test).expect_err("the test passed");
    match payload.downcast::<String>() {
        Ok(text) => *text,
        Err(payload) => payload
            .downcast_ref::<&str>()
            .map_or_else(|| "(not a string)".to_string(), |s| s.to_string()),
    }
}

thread_local! {
    /// The schedules run so far on this test's thread (each test runs on a fresh thread).
    static SCHEDULES: Cell<u32> = const { Cell::new(0) };
}

/// `Err` on every schedule but the tenth, the last of the exploration: only the last
/// schedule's value used to reach libtest, and this test passed.
#[async_testkit::test(explore = 10)]
#[should_panic(expected = "async-testkit: the test body returned Err(\"not the last schedule\")")]
async fn err_on_nine_schedules_of_ten_fails() -> Result<(), String> {
    let n = SCHEDULES.with(|s| {
        s.set(s.get() + 1);
        s.get()
    });
    if n == 10 {
        Ok(())
    } else {
        Err("not the last schedule".to_string())
    }
}

#[test]
fn the_first_err_is_reported_with_a_replay_token() {
    let text = report_of(err_on_nine_schedules_of_ten_fails);
    assert!(
        text.starts_with("async-testkit: the test body returned Err(\"not the last schedule\")\n"),
        "{text}"
    );
    assert!(
        text.contains("\n  test: err_on_nine_schedules_of_ten_fails\n"),
        "{text}"
    );
    assert!(text.contains("found on schedule 1 of 10"), "{text}");
    assert!(text.contains("minimised to 0 preemptions (from 0)"), "{text}");
    assert!(text.contains("replay: ASYNC_TESTKIT_REPLAY=atk1:"), "{text}");
    assert!(
        text.contains(":pcty1:0: cargo test -- --exact err_on_nine_schedules_of_ten_fails"),
        "{text}"
    );
    assert!(text.contains("#0 test body: returned Err\n"), "{text}");
    // An Err is not a panic.
    assert!(!text.contains("panics ("), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

/// The body resumes before the worker ran only when a schedule preempts it at its yield.
/// On 20 schedules of the default portfolio, the first and the last pass and most between
/// fail: this test used to pass.
#[async_testkit::test(explore = 20)]
#[should_panic(expected = "the test body returned Err(\"the body resumed before the worker ran\")")]
async fn an_err_from_a_race_fails_the_exploration() -> Result<(), String> {
    let worker = task::Builder::new().name("worker").spawn(async {});
    async_testkit::yield_point().await;
    let finished = worker.is_finished();
    worker.await.map_err(|e| e.to_string())?;
    if finished {
        Ok(())
    } else {
        Err("the body resumed before the worker ran".to_string())
    }
}

#[test]
fn a_race_s_err_is_minimised_and_replayable() {
    let text = report_of(an_err_from_a_race_fails_the_exploration);
    assert!(
        text.starts_with(
            "async-testkit: the test body returned Err(\"the body resumed before the worker ran\")\n"
        ),
        "{text}"
    );
    assert!(text.contains("found on schedule 2 of 20"), "{text}");
    assert!(text.contains("minimised to 1 preemption (from "), "{text}");
    assert!(text.contains("timeline (virtual time):"), "{text}");
    assert!(text.contains("replay: ASYNC_TESTKIT_REPLAY=atk1:"), "{text}");
    assert!(
        text.contains("cargo test -- --exact an_err_from_a_race_fails_the_exploration"),
        "{text}"
    );
    assert!(!text.contains("nondeterminism"), "{text}");
}

/// One run (no exploration): the kit reports the Err itself.
#[async_testkit::test]
#[should_panic(expected = "async-testkit: the test body returned Err(ParseIntError { kind: InvalidDigit })")]
async fn a_single_run_that_returns_err_fails() -> Result<(), std::num::ParseIntError> {
    let _n: u32 = "forty-two".parse()?;
    Ok(())
}

#[test]
fn a_single_run_s_err_is_reported_with_its_seed() {
    let text = report_of(a_single_run_that_returns_err_fails);
    assert!(
        text.starts_with("async-testkit: the test body returned Err(ParseIntError { kind: InvalidDigit })\n"),
        "{text}"
    );
    assert!(text.contains("tests/returned_err.rs:"), "{text}");
    assert!(
        text.contains(
            "replay: ASYNC_TESTKIT_SEED=0 cargo test -- --exact a_single_run_that_returns_err_fails"
        ),
        "{text}"
    );
}

/// A panic nobody took outranks the Err the body returns after it.
#[async_testkit::test]
#[should_panic(expected = "async-testkit: task #1 \"doomed\" panicked at")]
async fn a_task_s_panic_outranks_the_err() -> Result<(), String> {
    let t = task::Builder::new()
        .name("doomed")
        .spawn(async { panic!("first") });
    async_testkit::yield_point().await;
    let _ = t.await;
    Err("then".to_string())
}

#[test]
fn a_panic_report_also_names_the_err() {
    let text = report_of(a_task_s_panic_outranks_the_err);
    assert!(
        text.contains("\nalso: the test body returned Err(\"then\")\n"),
        "{text}"
    );
}

#[async_testkit::test(explore = 5)]
async fn ok_on_every_schedule_passes() -> Result<(), String> {
    let worker = task::Builder::new().name("worker").spawn(async { 3 });
    let n = worker.await.map_err(|e| e.to_string())?;
    if n == 3 { Ok(()) } else { Err(format!("got {n}")) }
}

/// `Result<T, E>` nests as libtest's `Termination` does: an inner `Err` fails too.
#[async_testkit::test]
#[should_panic(expected = "the test body returned Err(\"inner\")")]
async fn a_nested_err_fails() -> Result<Result<(), String>, std::num::ParseIntError> {
    Ok(Err("inner".to_string()))
}

/// The replay line of an `Err` found by exploration replays it: run in a child process,
/// with the token the report printed.
#[test]
fn the_replay_token_of_an_err_reproduces_it() {
    let text = report_of(an_err_from_a_race_fails_the_exploration);
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("replay: ASYNC_TESTKIT_REPLAY="))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no replay token in:\n{text}"));
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "an_err_from_a_race_fails_the_exploration",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ASYNC_TESTKIT_REPLAY", token)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The test expects the failure (`should_panic`): it passes when the replay fails.
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "async-testkit: the test body returned Err(\"the body resumed before the worker ran\")"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("replayed schedule with 1 preemption(s)"),
        "{stderr}"
    );
}
