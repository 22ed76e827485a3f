//! Which panics fail a test: one that ends a task, of any kind, or that nobody takes; not
//! one the task's own code catches. And each is named by its own message and place.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use async_testkit::{Builder, FailureKind, spawn, task};

mod support;
use support::line_of;

const SRC: &str = include_str!("panic_accounting.rs");

/// `catch_unwind` around a panic, as code that handles its own panic and carries on does.
fn caught(message: &'static str) -> String {
    support::caught_panic(|| panic!("{message}"))
}

#[test]
fn a_panic_a_tokio_task_catches_itself_does_not_fail_the_test() {
    let r = Builder::new().try_run(|| async {
        let v = tokio::spawn(async { caught("handled in a tokio task") })
            .await
            .unwrap();
        assert_eq!(v, "handled in a tokio task");
    });
    assert!(r.is_ok(), "{}", r.unwrap_err());
}

/// An output whose destructor panics.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("output dropped");
    }
}

/// tokio catches and discards a panic in the output of a finished task that a
/// `JoinHandle`'s drop drops: it ends no task, and the test passes as on tokio.
#[test]
fn a_panic_tokio_catches_while_a_join_handle_drops_the_output_does_not_fail_the_test() {
    let r = Builder::new().try_run(|| async {
        let h = tokio::spawn(async { PanicsOnDrop });
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        assert!(h.is_finished());
        drop(h);
    });
    assert!(r.is_ok(), "{}", r.unwrap_err());
}

/// The same destructor panicking in a task's own code still ends that task.
#[test]
fn a_panic_in_a_destructor_inside_a_tokio_task_still_fails_the_test() {
    let f = Builder::new()
        .try_run(|| async {
            let _ = tokio::spawn(async { drop(PanicsOnDrop) }).await;
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic);
    assert!(
        f.to_string().contains("panicked at tests/panic_accounting.rs:"),
        "{f}"
    );
    assert!(f.to_string().contains("output dropped"), "{f}");
}

#[test]
fn a_panic_a_spawn_blocking_closure_catches_itself_does_not_fail_the_test() {
    let r = Builder::new().try_run(|| async {
        let v = tokio::task::spawn_blocking(|| caught("handled in a closure"))
            .await
            .unwrap();
        assert_eq!(v, "handled in a closure");
    });
    assert!(r.is_ok(), "{}", r.unwrap_err());
}

#[test]
fn a_panic_a_kit_task_or_a_spawn_local_task_catches_itself_does_not_fail_the_test() {
    let r = Builder::new().try_run(|| async {
        assert_eq!(
            spawn(async { caught("in a kit task") }).await.unwrap(),
            "in a kit task"
        );
        assert_eq!(caught("in the body"), "in the body");
        let local = tokio::task::LocalSet::new();
        let v = local
            .run_until(async { tokio::task::spawn_local(async { caught("in a local task") }).await })
            .await
            .unwrap();
        assert_eq!(v, "in a local task");
    });
    assert!(r.is_ok(), "{}", r.unwrap_err());
}

#[test]
fn a_tokio_task_that_catches_one_panic_and_dies_of_another_fails_with_the_second() {
    let f = Builder::new()
        .try_run(|| async {
            let r = tokio::spawn(async {
                caught("the first, handled");
                panic!("the second, fatal"); // tokio-second
            })
            .await;
            assert!(r.is_err());
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic);
    let line = line_of(SRC, "tokio-second");
    assert_eq!(
        f.headline(),
        format!(
            "a task started with tokio::spawn panicked at tests/panic_accounting.rs:{line}:17: the second, fatal"
        )
    );
    assert_eq!(f.panic_messages(), ["the second, fatal"]);
    assert!(
        f.to_string().contains(
            "  (a panic that ends a task outside kit tasks always fails the test; to expect one, catch it inside \
             the task with catch_unwind, or start the task with async_testkit::spawn and take the panic with \
             JoinError::into_panic)"
        ),
        "{f}"
    );
}

#[test]
fn a_panic_in_a_spawn_local_task_fails_the_test_also_from_a_kit_task() {
    for in_kit_task in [false, true] {
        let f = Builder::new()
            .try_run(move || async move {
                let work = async {
                    let local = tokio::task::LocalSet::new();
                    local
                        .run_until(async {
                            let r = tokio::task::spawn_local(async {
                                tokio::task::yield_now().await;
                                panic!("local work failed"); // local-panic
                            })
                            .await;
                            assert!(r.is_err());
                        })
                        .await;
                };
                if in_kit_task {
                    task::Builder::new()
                        .name("runs the set")
                        .spawn(work)
                        .await
                        .unwrap();
                } else {
                    work.await;
                }
            })
            .unwrap_err();
        assert_eq!(f.kind(), FailureKind::Panic);
        let line = line_of(SRC, "local-panic");
        assert_eq!(
            f.headline(),
            format!(
                "a task started with tokio::task::spawn_local panicked at tests/panic_accounting.rs:{line}:33: \
                 local work failed"
            ),
            "in a kit task: {in_kit_task}"
        );
        assert_eq!(f.panic_messages(), ["local work failed"]);
    }
}

#[test]
fn a_payload_re_raised_after_a_caught_panic_is_reported_as_itself() {
    let f = Builder::new()
        .try_run(|| async {
            let r = task::Builder::new()
                .name("re-raiser")
                .spawn(async {
                    caught("an earlier panic, handled");
                    let worker =
                        std::thread::spawn(|| -> u32 { resume_unwind(Box::new("the worker's failure")) });
                    if let Err(payload) = worker.join() {
                        resume_unwind(payload);
                    }
                })
                .await;
            assert!(r.is_err());
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic);
    // resume_unwind calls no hook: the message is the payload's, and no place is known.
    assert_eq!(
        f.headline(),
        "task #1 \"re-raiser\" panicked: the worker's failure"
    );
    assert_eq!(f.panic_messages(), ["the worker's failure"]);
}

#[test]
fn a_kit_task_that_catches_one_panic_and_dies_of_another_fails_with_the_second() {
    let f = Builder::new()
        .try_run(|| async {
            caught("handled");
            let _ = catch_unwind(AssertUnwindSafe(|| panic!("handled too")));
            panic!("fatal"); // body-fatal
        })
        .unwrap_err();
    let line = line_of(SRC, "body-fatal");
    assert_eq!(
        f.headline(),
        format!("the test body panicked at tests/panic_accounting.rs:{line}:13: fatal")
    );
}
