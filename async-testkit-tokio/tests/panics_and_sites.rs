//! With the `explore` feature: the panics of tasks started with `tokio::spawn` in a run
//! as tokio gives them (an aborted task whose `Drop` panics, a payload whose own `Drop`
//! panics), and the spawn sites reports name when std's iterator adapters spawn.
#![cfg(feature = "explore")]

// As users name it: the dependency is called tokio.
extern crate async_testkit_tokio as tokio;

use async_testkit::{Builder, FailureKind};

struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("{}", self.0);
    }
}

/// What the body saw of an aborted task whose `Drop` panics.
async fn abort_a_task_whose_drop_panics(take: bool) -> String {
    let h = tokio::spawn(async {
        let _g = PanicOnDrop("dropped while aborted");
        std::future::pending::<()>().await
    });
    tokio::task::yield_now().await;
    h.abort();
    let err = h.await.unwrap_err();
    let seen = format!("cancelled={} panic={} {err}", err.is_cancelled(), err.is_panic());
    if take {
        let payload = err.into_panic();
        format!("{seen}; payload {:?}", payload.downcast_ref::<String>())
    } else {
        seen
    }
}

#[test]
fn an_aborted_task_whose_drop_panics_gives_the_panic_as_tokio_does() {
    let on_tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(abort_a_task_whose_drop_panics(true));
    let on_kit = Builder::new()
        .try_run(|| abort_a_task_whose_drop_panics(true))
        .unwrap()
        .into_value();
    // tokio numbers its tasks process-wide: compare without the id.
    let expected = "cancelled=false panic=true task 1 panicked with message \"dropped while aborted\"; payload \
                    Some(\"dropped while aborted\")";
    assert_eq!(on_kit, expected);
    let id_free = |s: &str| {
        s.split(" task ")
            .nth(1)
            .map(|r| r.split_once(' ').unwrap().1.to_string())
    };
    assert_eq!(id_free(&on_tokio), id_free(expected), "{on_tokio}");
}

#[test]
fn an_aborted_task_whose_drop_panics_fails_the_run_unless_the_test_takes_the_panic() {
    let f = Builder::new()
        .try_run(|| abort_a_task_whose_drop_panics(false))
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    assert!(
        f.headline()
            .starts_with("task #1 panicked at async-testkit-tokio/tests/panics_and_sites.rs:"),
        "{f}"
    );
    assert!(
        f.headline()
            .ends_with(": dropped while aborted (while the aborted task was being dropped)"),
        "{f}"
    );
}

struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("the payload's drop");
    }
}

#[test]
fn a_payload_whose_drop_panics_gives_a_report_not_a_panic_of_try_run() {
    let f = Builder::new()
        .try_run(|| async {
            tokio::spawn(async {
                std::panic::resume_unwind(Box::new(Bomb));
            });
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Panic, "{f}");
    assert_eq!(
        f.headline(),
        "task #1 panicked: (a panic payload that is not a string)",
        "{f}"
    );
}

#[test]
fn tasks_a_joinset_collects_or_map_spawns_are_named_by_the_tests_line() {
    let line = line!() + 4;
    let f = Builder::new()
        .try_run(|| async {
            let futs = || (0..1).map(|_| std::future::pending::<()>());
            let set: tokio::task::JoinSet<()> = futs().collect();
            std::mem::forget(set);
            let hs: Vec<_> = futs().map(tokio::spawn).collect();
            std::mem::forget(hs);
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Leak, "{f}");
    let headline = f.headline();
    let collected = format!("#1 (spawned at tests/panics_and_sites.rs:{line}:");
    let mapped = format!("#2 (spawned at tests/panics_and_sites.rs:{}:", line + 2);
    assert!(
        headline.starts_with("leak: 2 tasks were still alive when the test body returned: #1"),
        "{f}"
    );
    assert!(headline.contains(&collected), "{f}");
    assert!(headline.contains(&mapped), "{f}");
    assert!(!f.to_string().contains("/rustc/"), "{f}");
}
