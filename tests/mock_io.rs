//! Scripted I/O: followed scripts, and the exact message of every way off the script.

use std::time::Duration;

use async_testkit::mock::io::IoScript;
use async_testkit::{Builder, FailureKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

fn sites(text: &str) -> String {
    support::sites(text, file!())
}

fn expectation_failure<F, Fut>(body: F) -> String
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let f = support::fails(body);
    assert_eq!(f.kind(), FailureKind::Expectation, "{f}");
    sites(f.headline())
}

#[async_testkit::test]
async fn a_followed_script_passes_with_partial_reads_and_writes() {
    let mut io = IoScript::new()
        .read(b"hello world")
        .write(b"ack")
        .wait(Duration::from_millis(500))
        .read(b"bye")
        .build();
    let mut five = [0; 5];
    io.read_exact(&mut five).await.unwrap();
    assert_eq!(&five, b"hello");
    let mut rest = [0; 6];
    io.read_exact(&mut rest).await.unwrap();
    assert_eq!(&rest, b" world");
    io.write_all(b"a").await.unwrap();
    io.write_all(b"ck").await.unwrap();
    let mut end = Vec::new();
    io.read_to_end(&mut end).await.unwrap();
    assert_eq!(end, b"bye");
    assert_eq!(async_testkit::time::elapsed(), Duration::from_millis(500));
}

#[async_testkit::test]
async fn a_read_waits_for_the_write_another_task_makes() {
    let (mut reader, mut writer) = tokio::io::split(IoScript::new().write(b"req").read(b"resp").build());
    let read = async_testkit::spawn(async move {
        let mut buf = [0; 4];
        reader.read_exact(&mut buf).await.unwrap();
        buf
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    writer.write_all(b"req").await.unwrap();
    assert_eq!(&read.await.unwrap(), b"resp");
}

#[async_testkit::test]
async fn scripted_errors_reach_the_code() {
    let mut io = IoScript::new()
        .read_error(std::io::ErrorKind::ConnectionReset)
        .write_error(std::io::ErrorKind::BrokenPipe)
        .build();
    assert_eq!(
        io.read(&mut [0; 4]).await.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionReset
    );
    assert_eq!(
        io.write(b"x").await.unwrap_err().kind(),
        std::io::ErrorKind::BrokenPipe
    );
}

#[test]
fn an_unexpected_write_fails_the_test_and_the_write() {
    let headline = expectation_failure(|| async {
        let mut io = IoScript::named("conn").read(b"220").write(b"HELO a").build();
        let mut buf = [0; 3];
        io.read_exact(&mut buf).await.unwrap();
        let err = io.write_all(b"HELO b").await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::Other);
    });
    assert_eq!(
        headline,
        "I/O script `conn`: unexpected write at step 2 of 2: expected b\"HELO a\", got b\"HELO b\"\n\
         script:\n    1. done  read b\"220\"\n    2. next  write b\"HELO a\""
    );
}

#[test]
fn a_write_while_a_read_is_expected_fails() {
    let headline = expectation_failure(|| async {
        let mut io = IoScript::named("conn").read(b"banner").build();
        let _ = io.write_all(b"hi").await;
    });
    assert_eq!(
        headline,
        "I/O script `conn`: the code wrote b\"hi\" at step 1 of 1, but the script expects it to read b\"banner\" \
         first\nscript:\n    1. next  read b\"banner\""
    );
}

#[test]
fn a_write_after_the_end_fails() {
    let headline = expectation_failure(|| async {
        let mut io = IoScript::new().build();
        let _ = io.write_all(b"\x00late").await;
    });
    assert_eq!(
        headline,
        "the I/O script built at <site>: the code wrote b\"\\x00late\" after the script ended\nscript:"
    );
}

#[test]
fn leftover_steps_fail_the_test_when_the_io_is_dropped() {
    let headline = expectation_failure(|| async {
        let io = IoScript::named("conn").read(b"a").read(b"b").build();
        drop(io);
        tokio::time::sleep(Duration::from_secs(1)).await;
        unreachable!("the run stops at the next scheduling point");
    });
    assert_eq!(
        headline,
        "I/O script `conn` was not followed to its end: 2 of 2 steps left, the next is: read b\"a\"\n\
         script:\n    1. next  read b\"a\"\n    2.       read b\"b\""
    );
}

#[test]
fn leftover_steps_are_reported_once() {
    let f = Builder::new()
        .try_run(|| async {
            let mut io = IoScript::named("conn").write(b"x").read(b"y").build();
            io.write_all(b"x").await.unwrap();
            drop(io);
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Expectation);
    assert_eq!(
        f.to_string().matches("was not followed to its end").count(),
        1,
        "{f}"
    );
}

#[test]
fn a_read_nobody_answers_fails_at_once_naming_the_awaited_write() {
    let headline = expectation_failure(|| async {
        let mut io = IoScript::named("conn").write(b"x").build();
        let _ = io.read(&mut [0; 1]).await; // the script waits for a write nobody makes
    });
    assert_eq!(
        headline,
        "I/O script `conn` was not followed to its end: 1 of 1 steps left, the next is: write b\"x\"\n\
         script:\n    1. next  write b\"x\""
    );
}

#[test]
fn outside_a_run_a_broken_script_panics() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let err = std::panic::catch_unwind(|| {
        rt.block_on(async {
            let mut io = IoScript::named("conn").write(b"a").build();
            let _ = io.write_all(b"b").await;
        })
    })
    .unwrap_err();
    assert!(
        err.downcast_ref::<String>()
            .unwrap()
            .starts_with("I/O script `conn`: unexpected write at step 1 of 1"),
        "{err:?}"
    );
    let leftover = std::panic::catch_unwind(|| drop(IoScript::named("left").read(b"z").build())).unwrap_err();
    assert!(
        leftover
            .downcast_ref::<String>()
            .unwrap()
            .starts_with("I/O script `left` was not followed to its end"),
        "{leftover:?}"
    );
}

/// A scripted object built outside the test's closure is shared by every schedule of an
/// exploration: each schedule plays the script from its start, and is checked at its end.
#[test]
fn a_script_built_outside_an_exploration_plays_afresh_in_each_schedule() {
    let io = std::sync::Arc::new(tokio::sync::Mutex::new(
        IoScript::named("conn").read(b"ping").write(b"pong").build(),
    ));
    let r = Builder::new()
        .explore(5)
        .try_run(move || {
            let io = io.clone();
            async move {
                let mut io = io.lock().await;
                let mut buf = [0; 4];
                io.read_exact(&mut buf).await.unwrap();
                assert_eq!(&buf, b"ping");
                io.write_all(b"pong").await.unwrap();
            }
        })
        .unwrap();
    assert_eq!(r.schedules(), 5);
}

/// Each schedule checks the shared script: one that stops half way fails.
#[test]
fn a_schedule_that_leaves_a_shared_script_unfinished_fails() {
    let io = std::sync::Arc::new(tokio::sync::Mutex::new(
        IoScript::named("conn").read(b"ping").write(b"pong").build(),
    ));
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let f = Builder::new()
        .explore(5)
        .try_run(move || {
            let (io, runs) = (io.clone(), runs.clone());
            async move {
                let mut io = io.lock().await;
                let mut buf = [0; 4];
                io.read_exact(&mut buf).await.unwrap();
                if runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) != 2 {
                    io.write_all(b"pong").await.unwrap();
                }
            }
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Expectation, "{f}");
    assert!(
        f.headline().starts_with(
            "I/O script `conn` was not followed to its end: 1 of 2 steps left, the next is: write b\"pong\""
        ),
        "{f}"
    );
}

/// A script built inside the closure belongs to its run: kept alive past it (forgotten),
/// it is not played again, nor checked, by the later schedules.
#[test]
fn a_script_built_inside_and_kept_alive_is_not_checked_by_later_schedules() {
    let r = Builder::new()
        .explore(4)
        .try_run(|| async {
            let mut io = IoScript::named("conn").read(b"ping").build();
            let mut buf = [0; 4];
            io.read_exact(&mut buf).await.unwrap();
            std::mem::forget(io);
        })
        .unwrap();
    assert_eq!(r.schedules(), 4);
}
