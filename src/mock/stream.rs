//! Scripted streams on virtual time: [`StreamScript`] builds a [`ScriptedStream`], a
//! `futures_core::Stream` that yields the script's items, with waits between them.
//!
//! Like tokio-test's `stream_mock`, and checked by the kit's runtime: items the code under
//! test never took fail the *test* when its body returns (or when the stream is dropped),
//! with the script and the first item left, instead of a panic inside a `Drop`. After the
//! last step the stream ends (`None`).
//!
//! Its items are handed to the code, so a `ScriptedStream` cannot be played twice: one
//! built outside a test's closure fails each later run of an exploration that would find
//! its items taken, saying to build it inside the closure.
//!
//! ```
//! use std::future::poll_fn;
//! use std::pin::Pin;
//! use std::time::Duration;
//! use futures_core::Stream;
//! use async_testkit::mock::stream::StreamScript;
//!
//! async_testkit::run(async {
//!     let mut ticks = StreamScript::named("ticks")
//!         .next(1)
//!         .wait(Duration::from_secs(5))
//!         .next(2)
//!         .build();
//!     let mut got = Vec::new();
//!     while let Some(tick) = poll_fn(|cx| Pin::new(&mut ticks).poll_next(cx)).await {
//!         got.push(tick);
//!     }
//!     assert_eq!(got, [1, 2]);
//!     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(5));
//! });
//! ```

use std::fmt;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio::time::Sleep;

use super::script::{self, Script};
use crate::util::lock;

enum StreamStep<T> {
    Next(T),
    Wait(Duration),
}

impl<T> script::ScriptStep for StreamStep<T> {
    fn wait(&self) -> Option<Duration> {
        match self {
            StreamStep::Wait(d) => Some(*d),
            StreamStep::Next(_) => None,
        }
    }
}

/// Builds a [`ScriptedStream`]: items, and waits between them.
///
/// ```
/// use async_testkit::mock::stream::StreamScript;
/// let script = StreamScript::new().next("a").next("b");
/// # let _ = script;
/// ```
pub struct StreamScript<T> {
    name: Option<String>,
    steps: Vec<(StreamStep<T>, String)>,
    site: &'static Location<'static>,
}

impl<T> fmt::Debug for StreamScript<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps: Vec<&str> = self.steps.iter().map(|(_, d)| d.as_str()).collect();
        f.debug_struct("StreamScript").field("steps", &steps).finish()
    }
}

impl<T: fmt::Debug + Send + 'static> StreamScript<T> {
    /// An empty script; messages call it "the stream script built at" this location.
    ///
    /// ```
    /// let script = async_testkit::mock::stream::StreamScript::<u8>::new();
    /// # let _ = script;
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        StreamScript {
            name: None,
            steps: Vec::new(),
            site: Location::caller(),
        }
    }

    /// An empty script with a name for messages.
    ///
    /// ```
    /// let script = async_testkit::mock::stream::StreamScript::<u8>::named("events");
    /// # let _ = script;
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<String>) -> Self {
        StreamScript {
            name: Some(name.into()),
            ..StreamScript::new()
        }
    }

    /// The stream yields `item`.
    ///
    /// ```
    /// use std::{future::poll_fn, pin::Pin};
    /// use futures_core::Stream;
    /// async_testkit::run(async {
    ///     let mut s = async_testkit::mock::stream::StreamScript::new().next('x').build();
    ///     assert_eq!(poll_fn(|cx| Pin::new(&mut s).poll_next(cx)).await, Some('x'));
    /// });
    /// ```
    pub fn next(mut self, item: T) -> Self {
        let described = format!("next {item:?}");
        self.steps.push((StreamStep::Next(item), described));
        self
    }

    /// The stream waits this long (virtual time) before going on.
    ///
    /// ```
    /// use std::{future::poll_fn, pin::Pin, time::Duration};
    /// use futures_core::Stream;
    /// async_testkit::run(async {
    ///     let mut s = async_testkit::mock::stream::StreamScript::<u8>::new()
    ///         .wait(Duration::from_secs(60))
    ///         .build();
    ///     assert_eq!(poll_fn(|cx| Pin::new(&mut s).poll_next(cx)).await, None);
    ///     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(60));
    /// });
    /// ```
    pub fn wait(mut self, duration: Duration) -> Self {
        self.steps
            .push((StreamStep::Wait(duration), format!("wait {duration:?}")));
        self
    }

    /// The scripted stream. Inside a kit run, the run checks at its end that every item
    /// was taken.
    ///
    /// ```
    /// let f = async_testkit::Builder::new()
    ///     .try_run(|| async {
    ///         let events = async_testkit::mock::stream::StreamScript::named("events").next(1).build();
    ///         std::mem::forget(events); // never read, never dropped: the run still checks it
    ///     })
    ///     .unwrap_err();
    /// assert!(f.headline().starts_with("stream script `events` was not followed to its end"));
    /// ```
    pub fn build(self) -> ScriptedStream<T> {
        ScriptedStream {
            script: Script::start("stream", self.name.as_deref(), self.site, self.steps, None),
            sleep: None,
        }
    }
}

impl<T: fmt::Debug + Send + 'static> Default for StreamScript<T> {
    #[track_caller]
    fn default() -> Self {
        StreamScript::new()
    }
}

/// A `Stream` that plays a [`StreamScript`]; see the [module docs](self).
///
/// Outside a kit run, one dropped with items left panics on drop (unless the thread is
/// already panicking).
///
/// ```
/// let f = async_testkit::Builder::new()
///     .try_run(|| async {
///         drop(async_testkit::mock::stream::StreamScript::named("events").next(1).next(2).build());
///     })
///     .unwrap_err();
/// assert_eq!(f.kind(), async_testkit::FailureKind::Expectation);
/// ```
pub struct ScriptedStream<T> {
    script: Arc<Mutex<Script<StreamStep<T>>>>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<T> fmt::Debug for ScriptedStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.script);
        f.debug_struct("ScriptedStream")
            .field("script", &s.label)
            .field("steps_left", &s.left.len())
            .finish()
    }
}

// The items are only moved out; nothing is pinned structurally.
impl<T> Unpin for ScriptedStream<T> {}

impl<T> Stream for ScriptedStream<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        script::adopt_current(&this.script);
        if script::poll_wait(&this.script, &mut this.sleep, cx).is_pending() {
            return Poll::Pending;
        }
        let mut s = lock(&this.script);
        // Waits are behind us, so the front step, if any, is an item.
        match s.take() {
            Some(StreamStep::Next(item)) => Poll::Ready(Some(item)),
            Some(StreamStep::Wait(_)) | None => Poll::Ready(None),
        }
    }
}

impl<T> Drop for ScriptedStream<T> {
    fn drop(&mut self) {
        script::check_dropped(&self.script);
    }
}
