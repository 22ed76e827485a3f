//! tracing on virtual time (feature `tracing`): a timer for `tracing-subscriber`'s `fmt`
//! that prints the run's virtual time, and a layer that puts the events of the code under
//! test into the run's timeline, shown in a failure's report and nowhere when the test
//! passes.
//!
//! Both are plain parts of a subscriber of the test's own: the kit installs no
//! subscriber and sets no global state. [`layer`] routes each event to the run of the
//! thread it was emitted on (the run's own thread, its `spawn_blocking` closures, and on
//! Linux the unnamed OS threads the test started), and ignores events of threads that
//! belong to no run, so one subscriber installed for the whole test binary serves every
//! test, however many run in parallel. `tracing::subscriber::set_default` works too, but
//! only for the thread it is called on (the run's own, when called in the test).
//!
//! ```
//! use std::time::Duration;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! // Once for the whole test binary (the first call wins; later ones change nothing).
//! let _ = tracing::subscriber::set_global_default(
//!     tracing_subscriber::registry()
//!         .with(async_testkit::tracing::layer())
//!         .with(
//!             tracing_subscriber::fmt::layer()
//!                 .with_timer(async_testkit::tracing::VirtualTime)
//!                 .with_test_writer(),
//!         ),
//! );
//!
//! let failure = async_testkit::Builder::new()
//!     .try_run(|| async {
//!         let worker = async_testkit::task::Builder::new().name("refresher").spawn(async {
//!             tokio::time::sleep(Duration::from_secs(3600)).await;
//!             tracing::warn!(attempt = 3, "token refresh failed");
//!         });
//!         worker.await.unwrap();
//!         panic!("no token");
//!     })
//!     .unwrap_err();
//! let report = failure.to_string();
//! assert!(report.contains("WARN"), "{report}");
//! assert!(report.contains("token refresh failed attempt=3"), "{report}");
//! ```

use std::fmt::{self, Write as _};

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::layer::{Context, Layer};

use crate::runtime::{executor, link};
use crate::trace::{LogLine, Vt};

/// A `tracing-subscriber` timer that prints the run's virtual time (`+1h00m00.000s`, as
/// the kit's reports do), from any thread of the run (see [`crate::time::try_elapsed`]),
/// and `-` outside a run.
///
/// ```
/// use std::time::Duration;
///
/// let subscriber = tracing_subscriber::fmt()
///     .with_timer(async_testkit::tracing::VirtualTime)
///     .with_test_writer()
///     .finish();
/// async_testkit::run(async move {
///     let _guard = tracing::subscriber::set_default(subscriber);
///     tokio::time::sleep(Duration::from_secs(3600)).await;
///     tracing::info!("an hour later"); // printed as `+1h00m00.000s  INFO ...`
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct VirtualTime;

impl FormatTime for VirtualTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        match crate::time::try_elapsed() {
            Some(at) => write!(w, "{}", Vt(at)),
            None => w.write_str("-"),
        }
    }
}

/// The layer that records the events of the code under test into the timeline of the run
/// they happen in: at their virtual time, as events of the kit task being polled
/// (`#1 "worker": WARN my_crate::client: retrying attempt=2`), or of the thread they
/// came from. A failing test's report shows them among the schedule's events; a passing
/// test prints nothing. Spans are not recorded, only events.
///
/// Events of threads that belong to no run are ignored, and so are those of runs that
/// keep no timeline (the schedules of an exploration, before a failure's traced replay).
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(async_testkit::tracing::layer());
/// let dispatch = tracing::Dispatch::new(subscriber);
/// let failure = async_testkit::Builder::new()
///     .try_run(move || {
///         let dispatch = dispatch.clone(); // a builder's body may run more than once
///         async move {
///             let _guard = tracing::dispatcher::set_default(&dispatch);
///             tracing::error!(target: "billing", invoice = 42, "charge declined");
///             assert_eq!(1 + 1, 3);
///         }
///     })
///     .unwrap_err();
/// assert!(failure.to_string().contains("ERROR billing: charge declined invoice=42"));
/// ```
pub fn layer() -> TimelineLayer {
    TimelineLayer { _private: () }
}

/// What [`layer`] returns: a `tracing_subscriber::Layer` over any subscriber.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let _subscriber = tracing_subscriber::registry().with(async_testkit::tracing::layer());
/// ```
#[derive(Debug)]
pub struct TimelineLayer {
    _private: (),
}

impl<S: ::tracing::Subscriber> Layer<S> for TimelineLayer {
    fn on_event(&self, event: &::tracing::Event<'_>, _ctx: Context<'_, S>) {
        if let Some(core) = executor::try_current() {
            core.log(|| line(event, None));
        } else if let Some(run) = link::current() {
            if let Some(at) = run.elapsed() {
                let thread = match std::thread::current().name() {
                    Some(name) => format!("thread {name:?}"),
                    None => "an unnamed thread".to_string(),
                };
                run.post(at, line(event, Some(thread)));
            }
        }
    }
}

/// An event as a log line: its message, then ` key=value` for each other field.
fn line(event: &::tracing::Event<'_>, thread: Option<String>) -> LogLine {
    let meta = event.metadata();
    let mut fields = Fields::default();
    event.record(&mut fields);
    let mut text = fields.message;
    for (key, value) in fields.others {
        if !text.is_empty() {
            text.push(' ');
        }
        let _ = write!(text, "{key}={value}");
    }
    LogLine {
        level: meta.level().as_str(),
        target: meta.target().to_string(),
        text,
        thread,
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    others: Vec<(&'static str, String)>,
}

impl ::tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &::tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.others.push((field.name(), format!("{value:?}")));
        }
    }
}
