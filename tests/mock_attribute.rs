//! `#[async_testkit::mock]` through the public crate: shapes, `Send`, and names.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

#[async_testkit::mock]
trait Clock {
    /// `Send` futures: the mock can be used from `tokio::spawn`ed tasks.
    fn tick(&self, n: u32) -> impl Future<Output = &'static str> + Send;
    /// A default body is replaced by the mock.
    async fn name(&self) -> String {
        "real".to_string()
    }
    async fn bytes(&self, data: &[u8], tag: &u32) -> usize;
}

#[async_testkit::test]
async fn send_futures_work_from_tokio_spawn() {
    let clock = Arc::new(MockClock::new());
    clock.tick.returns_after(Duration::from_secs(1), "tock");
    let c = clock.clone();
    let handle = tokio::spawn(async move { c.tick(3).await });
    assert_eq!(handle.await.unwrap(), "tock");
    clock.tick.assert_called_with(3);
    assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(1));
}

#[async_testkit::test]
async fn default_bodies_are_mocked_and_borrowed_args_recorded_owned() {
    let clock = MockClock::default();
    clock.name.returns("mocked".into());
    clock
        .bytes
        .returns_with(|(data, tag)| async move { data.len() + tag as usize });
    assert_eq!(clock.name().await, "mocked");
    assert_eq!(clock.bytes(b"abc", &2).await, 5);
    clock.bytes.assert_called_with((b"abc".to_vec(), 2));
}

#[async_testkit::test]
async fn clones_share_the_mocks() {
    let clock = MockClock::new();
    let held = clock.clone();
    clock.name.returns("n".into());
    held.name().await;
    clock.name.assert_awaited_times(1);
    assert_eq!(clock.name.name(), Some("Clock::name"));
}

#[test]
fn a_failing_call_names_the_method_and_the_call_site() {
    let f = async_testkit::Builder::new()
        .try_run(|| async {
            MockClock::new().tick(1).await;
        })
        .unwrap_err();
    let message = &f.panic_messages()[0];
    let line = line!() - 4;
    assert_eq!(
        *message,
        format!(
            "mock `Clock::tick` has no behaviour for call #1 with arguments 1 (called at {}:{line}:30).\n\
             Give it one with returns(..), returns_seq(..), returns_once(..), returns_with(..), fails(..), panics(..) or hangs().",
            file!()
        )
    );
}
