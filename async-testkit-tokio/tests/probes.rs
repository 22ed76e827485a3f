//! Hostile probes: what real code written against tokio's task API does, asserted to behave
//! (and print) as tokio's does, both for kit tasks (inside a run) and tokio's (outside one).
#![cfg(feature = "explore")]

extern crate async_testkit_tokio as tokio;

use std::future::Future;

/// The texts tokio's task types print, with each task's id written as `{id}`.
async fn printed() -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |s: String, id: tokio::task::Id| out.push(s.replace(&id.to_string(), "{id}"));

    let h = tokio::spawn(std::future::pending::<()>());
    let id = h.id();
    push(format!("{id}|{id:?}"), id);
    push(format!("{h:?}"), id);
    push(format!("{:?}", h.abort_handle()), id);
    h.abort();
    let e = h.await.unwrap_err();
    push(format!("{e} | {e:?}"), id);
    let io: std::io::Error = e.into();
    push(io.to_string(), id);

    let h = tokio::spawn(async { panic!("boom") });
    let id = h.id();
    let e = h.await.unwrap_err();
    push(format!("{e} | {e:?}"), id);
    assert_eq!(*e.into_panic().downcast::<&str>().unwrap(), "boom");

    let h = tokio::spawn(async { panic!("{}", "fmt \"q\"") });
    let id = h.id();
    let e = h.await.unwrap_err();
    push(format!("{e} | {e:?}"), id);
    e.into_panic();

    let h = tokio::spawn(async { std::panic::panic_any(7u8) });
    let id = h.id();
    let e = h.await.unwrap_err();
    push(format!("{e} | {e:?}"), id);
    e.into_panic();

    let mut set = tokio::task::JoinSet::new();
    set.spawn(async {});
    out.push(format!("{set:?}"));
    set.shutdown().await;
    out
}

fn expected() -> Vec<String> {
    [
        "{id}|Id({id})",
        "JoinHandle { id: Id({id}) }",
        "AbortHandle { id: Id({id}) }",
        "task {id} was cancelled | JoinError::Cancelled(Id({id}))",
        "task was cancelled",
        "task {id} panicked with message \"boom\" | JoinError::Panic(Id({id}), \"boom\", ...)",
        "task {id} panicked with message \"fmt \\\"q\\\"\" | JoinError::Panic(Id({id}), \"fmt \\\"q\\\"\", ...)",
        "task {id} panicked | JoinError::Panic(Id({id}), ...)",
        "JoinSet { len: 1 }",
    ]
    .map(String::from)
    .to_vec()
}

fn on_tokio<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn kit_tasks_print_as_tokio_tasks_do() {
    assert_eq!(async_testkit::run(printed()), expected());
}

#[test]
fn tokio_tasks_print_as_tokio_prints_them() {
    assert_eq!(on_tokio(printed()), expected());
}

#[test]
fn kit_task_ids_print_as_tokio_ids() {
    async_testkit::run(async {
        let h = tokio::spawn(std::future::pending::<()>());
        // The body is kit task 0, its first spawn 1.
        assert_eq!(format!("{:?} {}", h.id(), h.id()), "Id(1) 1");
        assert_eq!(format!("{:#?}", h.id()), "Id(\n    1,\n)");
        assert_eq!(format!("{h:?}"), "JoinHandle { id: Id(1) }");
        h.abort();
        let e = h.await.unwrap_err();
        assert_eq!(format!("{e:?}"), "JoinError::Cancelled(Id(1))");
        assert_eq!(e.to_string(), "task 1 was cancelled");
    });
}

#[test]
fn into_panic_of_a_cancelled_task_panics_with_tokios_message() {
    for in_run in [true, false] {
        let program = async {
            let h = tokio::spawn(std::future::pending::<()>());
            h.abort();
            let e = h.await.unwrap_err();
            let id = e.id();
            let msg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.into_panic()))
                .map(|_| ())
                .unwrap_err();
            msg.downcast::<String>().unwrap().replace(&id.to_string(), "{id}")
        };
        let msg = if in_run {
            async_testkit::run(program)
        } else {
            on_tokio(program)
        };
        assert_eq!(
            msg,
            "`JoinError` reason is not a panic.: JoinError::Cancelled(Id({id}))"
        );
    }
}

#[test]
fn a_panic_turned_into_an_io_error_says_so_and_still_fails_the_run() {
    let io = on_tokio(async {
        let e = tokio::spawn(async { panic!("lost") }).await.unwrap_err();
        std::io::Error::from(e).to_string()
    });
    assert_eq!(io, "task panicked");
    // In a run, the payload is not taken by the conversion: the panic fails the test, as
    // any kit task's panic that the test does not take (README, the table of differences).
    let f = async_testkit::Builder::new()
        .try_run(|| async {
            let e = tokio::spawn(async { panic!("lost") }).await.unwrap_err();
            assert_eq!(std::io::Error::from(e).to_string(), "task panicked");
        })
        .unwrap_err();
    assert_eq!(f.kind(), async_testkit::FailureKind::Panic, "{f}");
    assert!(f.panic_messages()[0].contains("lost"), "{f}");
}
