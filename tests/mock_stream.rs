//! Scripted streams: items and waits on virtual time, and the message for items left.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use async_testkit::FailureKind;
use async_testkit::mock::stream::{ScriptedStream, StreamScript};
use futures_core::Stream;

mod support;

async fn next<T>(s: &mut ScriptedStream<T>) -> Option<T> {
    poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

#[async_testkit::test]
async fn items_come_at_their_virtual_times_then_the_end() {
    let mut s = StreamScript::new()
        .next("a")
        .wait(Duration::from_secs(2))
        .next("b")
        .wait(Duration::from_secs(3))
        .build();
    assert_eq!(next(&mut s).await, Some("a"));
    assert_eq!(async_testkit::time::elapsed(), Duration::ZERO);
    assert_eq!(next(&mut s).await, Some("b"));
    assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(2));
    assert_eq!(next(&mut s).await, None);
    assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(5));
    assert_eq!(next(&mut s).await, None, "an ended stream stays ended");
}

#[async_testkit::test]
async fn a_consumer_with_a_timeout_sees_the_wait() {
    let mut s = StreamScript::new().wait(Duration::from_secs(10)).next(1).build();
    assert!(
        tokio::time::timeout(Duration::from_secs(1), next(&mut s))
            .await
            .is_err()
    );
    assert_eq!(next(&mut s).await, Some(1));
    assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(10));
}

#[test]
fn items_left_untaken_fail_the_test_with_the_script() {
    let f = support::fails(|| async {
        let mut s = StreamScript::named("events")
            .next(1)
            .wait(Duration::from_secs(1))
            .next(2)
            .build();
        assert_eq!(next(&mut s).await, Some(1));
    });
    assert_eq!(f.kind(), FailureKind::Expectation);
    assert_eq!(
        f.headline(),
        "stream script `events` was not followed to its end: 2 of 3 steps left, the next is: wait 1s\n\
         script:\n    1. done  next 1\n    2. next  wait 1s\n    3.       next 2"
    );
}

#[test]
fn an_unnamed_script_is_named_by_where_it_was_built() {
    let f = support::fails(|| async {
        drop(StreamScript::new().next('x').build());
    });
    assert_eq!(
        support::sites(f.headline(), file!()),
        "the stream script built at <site> was not followed to its end: 1 of 1 steps left, the next is: next 'x'\n\
         script:\n    1. next  next 'x'"
    );
}

#[test]
fn outside_a_run_items_left_panic_on_drop() {
    let err = std::panic::catch_unwind(|| drop(StreamScript::named("left").next(1u8).build())).unwrap_err();
    assert!(
        err.downcast_ref::<String>()
            .unwrap()
            .starts_with("stream script `left` was not followed to its end: 1 of 1 steps left"),
        "{err:?}"
    );
}

/// A scripted stream built outside the test's closure cannot give its items to a second
/// schedule: that schedule fails saying why and what to do, rather than seeing the stream
/// end at once.
#[test]
fn a_stream_spent_by_an_earlier_schedule_says_to_build_it_inside() {
    let s = std::sync::Arc::new(tokio::sync::Mutex::new(
        StreamScript::named("events").next(1).next(2).build(),
    ));
    let f = async_testkit::Builder::new()
        .explore(5)
        .try_run(move || {
            let s = s.clone();
            async move {
                let mut s = s.lock().await;
                while next(&mut s).await.is_some() {}
            }
        })
        .unwrap_err();
    assert_eq!(f.kind(), FailureKind::Expectation, "{f}");
    assert_eq!(
        f.headline(),
        "stream script `events` was built outside the test's closure, and an earlier run of this test (the \
         schedules of an exploration, a failure's replays) took 2 of its 2 steps: its items are handed to the \
         code and cannot be given again, so this run would find them gone. Build the script inside the \
         closure, so that each run has its own."
    );
}
