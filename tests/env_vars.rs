//! The replay variables. Environment variables are process-wide, so this binary holds a
//! single test that sets them one after another.

use async_testkit::{Builder, Strategy};

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("expected a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap()
}

fn with_var<R>(name: &str, value: &str, f: impl FnOnce() -> R) -> R {
    // SAFETY: this binary has one test, so no other thread reads the environment now.
    unsafe { std::env::set_var(name, value) };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    unsafe { std::env::remove_var(name) };
    r.unwrap_or_else(|p| std::panic::resume_unwind(p))
}

#[test]
fn replay_variables_override_the_code() {
    // ASYNC_TESTKIT_SEED replays one run with that seed, even when the code explores.
    let r = with_var("ASYNC_TESTKIT_SEED", "77", || {
        Builder::new().seed(1).explore(500).try_run(|| async {})
    });
    let r = r.unwrap();
    assert_eq!(r.seed(), 77);
    assert_eq!(r.schedules(), 1);

    let r = with_var("ASYNC_TESTKIT_STRATEGY", "random", || {
        Builder::new().try_run(|| async {})
    })
    .unwrap();
    assert_eq!(r.strategy(), Strategy::Random);

    let m = panic_message(|| {
        with_var("ASYNC_TESTKIT_SEED", "seven", || Builder::new().run(|| async {}));
    });
    assert_eq!(
        m,
        "ASYNC_TESTKIT_SEED=\"seven\" is not a number: set it to the seed printed in a failure report, like ASYNC_TESTKIT_SEED=7"
    );
    let m = panic_message(|| {
        with_var("ASYNC_TESTKIT_STRATEGY", "chaos", || {
            Builder::new().run(|| async {})
        });
    });
    assert_eq!(
        m,
        "ASYNC_TESTKIT_STRATEGY=\"chaos\" is not a strategy async-testkit knows: use \"fifo\" or \"random\""
    );
}
