//! Feature `tracing`: the virtual-time timer and the timeline layer.

use std::io::Write;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use async_testkit::{Builder, FailureKind};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

const HOUR: Duration = Duration::from_secs(3600);

/// Formatted output, kept in memory.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

/// A `fmt` subscriber on virtual time writing into `buffer`.
fn formatted(buffer: &Buffer) -> tracing::Dispatch {
    tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .with_timer(async_testkit::tracing::VirtualTime)
            .with_writer(buffer.clone())
            .finish(),
    )
}

/// The timeline layer as the global subscriber, as a test binary installs it once.
fn global_layer() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(async_testkit::tracing::layer()),
        )
        .unwrap();
    });
}

#[test]
fn virtual_time_prints_the_runs_clock_after_a_virtual_hour() {
    let buffer = Buffer::default();
    let dispatch = formatted(&buffer);
    async_testkit::run(async move {
        let _guard = tracing::dispatcher::set_default(&dispatch);
        tracing::info!("start");
        tokio::time::sleep(HOUR).await;
        tracing::info!(job = "sync", "an hour later");
    });
    assert_eq!(
        buffer.text(),
        "+0s  INFO tracing_virtual_time: start\n\
         +1h00m00.000s  INFO tracing_virtual_time: an hour later job=\"sync\"\n"
    );
}

#[test]
fn virtual_time_prints_the_runs_clock_in_a_blocking_closure() {
    let buffer = Buffer::default();
    let dispatch = formatted(&buffer);
    async_testkit::run(async move {
        tokio::time::sleep(HOUR / 2 + Duration::from_millis(250)).await;
        tokio::task::spawn_blocking(move || {
            tracing::dispatcher::with_default(&dispatch, || tracing::warn!("from the pool"));
        })
        .await
        .unwrap();
    });
    assert_eq!(
        buffer.text(),
        "+30m00.250s  WARN tracing_virtual_time: from the pool\n"
    );
}

#[test]
fn virtual_time_prints_a_dash_outside_a_run() {
    let buffer = Buffer::default();
    tracing::dispatcher::with_default(&formatted(&buffer), || tracing::info!("no run"));
    assert_eq!(buffer.text(), "-  INFO tracing_virtual_time: no run\n");
}

#[test]
fn a_failing_tests_timeline_shows_its_events_with_task_names() {
    global_layer();
    let failure = Builder::new()
        .try_run(|| async {
            let worker = async_testkit::task::Builder::new()
                .name("refresher")
                .spawn(async {
                    tokio::time::sleep(HOUR).await;
                    tracing::warn!(attempt = 3, "token refresh failed");
                });
            worker.await.unwrap();
            tokio::task::spawn_blocking(|| tracing::info!(target: "pool", "blocking work"))
                .await
                .unwrap();
            tracing::error!("giving up");
            panic!("no token");
        })
        .unwrap_err();
    assert_eq!(failure.kind(), FailureKind::Panic);
    let report = failure.to_string();
    let line = |text: &str| {
        report
            .lines()
            .find(|l| l.contains(text))
            .unwrap_or_else(|| panic!("no line with {text:?} in:\n{report}"))
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        line("token refresh failed"),
        "+1h00m00.000s #1 \"refresher\": WARN tracing_virtual_time: token refresh failed attempt=3"
    );
    assert_eq!(
        line("blocking work"),
        "+1h00m00.000s thread \"tokio-rt-worker\": INFO pool: blocking work"
    );
    assert_eq!(
        line("giving up"),
        "+1h00m00.000s #0 test body: ERROR tracing_virtual_time: giving up"
    );
}

#[test]
fn a_failing_exploration_shows_the_events_of_its_replay() {
    global_layer();
    let failure = Builder::new()
        .explore(4)
        .try_run(|| async {
            tracing::info!(step = 1, "before the failure");
            panic!("always");
        })
        .unwrap_err();
    let report = failure.to_string();
    assert!(
        report.contains("#0 test body: INFO tracing_virtual_time: before the failure step=1"),
        "{report}"
    );
}

#[test]
fn events_of_threads_outside_any_run_are_not_recorded() {
    global_layer();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let outsider = std::thread::Builder::new()
        .name("outsider".into())
        .spawn(move || {
            rx.recv().unwrap();
            tracing::error!("not the test's");
        })
        .unwrap();
    let failure = Builder::new()
        .try_run(move || {
            let tx = tx.clone();
            async move {
                tx.send(()).unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
                panic!("fails");
            }
        })
        .unwrap_err();
    outsider.join().unwrap();
    assert!(!failure.to_string().contains("not the test's"), "{failure}");
}

/// Run by [`a_passing_test_prints_nothing`] in a process of its own.
#[async_testkit::test]
async fn passing_child() {
    if std::env::var_os("ASYNC_TESTKIT_TRACING_CHILD").is_none() {
        return;
    }
    global_layer();
    tokio::time::sleep(HOUR).await;
    tracing::warn!("quiet unless the test fails");
}

#[test]
fn a_passing_test_prints_nothing() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "passing_child", "--test-threads=1", "--nocapture"])
        .env("ASYNC_TESTKIT_TRACING_CHILD", "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("test passing_child ... ok"), "{stdout}");
    assert!(
        !stdout.contains("quiet unless") && !stderr.contains("quiet unless"),
        "{stdout}{stderr}"
    );
}
