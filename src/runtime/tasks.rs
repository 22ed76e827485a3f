//! What the kit knows about its tasks, for the executor and the reports: a task's
//! description ([`TaskMeta`], shareable across threads), its state and counters, and how
//! its owner learns its outcome ([`JoinControl`]). Depends on nothing else in the runtime.

use std::backtrace::Backtrace;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::trace::TaskId;
use crate::util::frame_symbol;

/// What the kit knows about a task, shareable across threads; cheap to clone (the name
/// is shared).
#[derive(Clone, Debug)]
pub(crate) struct TaskMeta {
    pub(crate) id: TaskId,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) site: SpawnSite,
    pub(crate) background: bool,
}

/// Where a task was spawned, as reports name it: the spawn call's location
/// (`#[track_caller]`).
///
/// A location inside the standard library means the spawn function was called by std
/// code that does not pass on its caller's location: an iterator adapter, as in
/// `futs.into_iter().collect::<JoinSet<_>>()` or `.map(tokio::spawn)`. Only then is the
/// stack captured (not resolved yet), and the first frame outside std, tokio
/// and the kit is looked up when a report first names the task.
#[derive(Clone)]
pub(crate) struct SpawnSite {
    at: &'static Location<'static>,
    through_std: Option<Arc<ThroughStd>>,
}

/// The stack of a spawn whose location is inside the standard library, and the caller's
/// place found in it (once).
struct ThroughStd {
    stack: Backtrace,
    found: OnceLock<Option<String>>,
}

impl SpawnSite {
    /// The site of a spawn at `at`: one look at the path, the stack only for std's.
    #[inline]
    pub(crate) fn new(at: &'static Location<'static>) -> Self {
        if in_std(at.file()) {
            Self::through_std(at)
        } else {
            SpawnSite {
                at,
                through_std: None,
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn through_std(at: &'static Location<'static>) -> Self {
        SpawnSite {
            at,
            through_std: Some(Arc::new(ThroughStd {
                stack: Backtrace::force_capture(),
                found: OnceLock::new(),
            })),
        }
    }
}

/// Whether a source path is the standard library's: under `/rustc/<commit>/` as rustup's
/// toolchains name it, or under `library/{core,alloc,std}/src/` (a toolchain built
/// elsewhere, or `-Zbuild-std`), which is an absolute path or starts so. A relative path,
/// the common case (the package's own files), is told by its first bytes: a spawn pays
/// for no search of its path.
#[inline]
fn in_std(file: &str) -> bool {
    let b = file.as_bytes();
    let absolute = matches!(b.first(), Some(b'/' | b'\\')) || b.get(1) == Some(&b':');
    if absolute {
        file.starts_with("/rustc/") || under_std_library(file)
    } else {
        b.first() == Some(&b'l') && under_std_library(file)
    }
}

/// Whether `library/core/src/` (or `alloc`'s, or `std`'s) starts the path or follows one
/// of its separators.
#[cold]
fn under_std_library(file: &str) -> bool {
    let starts = |i: usize| {
        let rest = &file[i..];
        ["library/core/src/", "library/alloc/src/", "library/std/src/"]
            .iter()
            .any(|p| rest.starts_with(p))
    };
    starts(0)
        || file
            .char_indices()
            .any(|(i, c)| (c == '/' || c == '\\') && starts(i + 1))
}

/// Frames that are not the test's: std, tokio, the kit and its tokio crate.
const NOT_THE_CALLER: &[&str] = &[
    "std::",
    "core::",
    "alloc::",
    "<std::",
    "<core::",
    "<alloc::",
    "__rust",
    "tokio::",
    "<tokio::",
    "async_testkit::",
    "<async_testkit::",
    "async_testkit_tokio::",
    "<async_testkit_tokio::",
];

impl ThroughStd {
    /// The caller's place in the stack (see [`first_caller`]), looked up once.
    fn caller(&self) -> Option<&str> {
        self.found
            .get_or_init(|| first_caller(&self.stack.to_string()))
            .as_deref()
    }
}

/// `file:line:col` of the first frame of a captured stack (as std prints it) that is
/// neither the standard library's (by symbol or by path), tokio's nor the kit's, as std
/// prints it (relative to the working directory, under `cargo test` the package's),
/// without its `./`; `None` without one (a build without debug information names no
/// files).
fn first_caller(stack: &str) -> Option<String> {
    let mut candidate = false;
    for line in stack.lines() {
        if let Some(symbol) = frame_symbol(line) {
            candidate = !NOT_THE_CALLER.iter().any(|m| symbol.starts_with(m));
        } else if let Some(place) = line.trim_start().strip_prefix("at ") {
            if candidate && !in_std(place) {
                return Some(place.strip_prefix("./").unwrap_or(place).to_string());
            }
        }
    }
    None
}

impl fmt::Display for SpawnSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(std) = &self.through_std else {
            return write!(f, "{}", self.at);
        };
        match std.caller() {
            Some(place) => write!(f, "{place}"),
            None => write!(
                f,
                "{} (in the standard library: the spawn was called by an iterator adapter such as collect or \
                 map, which does not pass on its caller's place, and the stack named no frame of the test's; \
                 spawn in a for loop, or with extend, to have the call named)",
                self.at
            ),
        }
    }
}

impl fmt::Debug for SpawnSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl TaskMeta {
    /// `#0 test body`, `#3 "producer"`, `#4`.
    pub(crate) fn label(&self) -> String {
        match (&self.name, self.id) {
            (Some(n), id) => format!("#{id} \"{n}\""),
            (None, 0) => "#0 test body".to_string(),
            (None, id) => format!("#{id}"),
        }
    }
}

/// How a task's owner learns its outcome; implemented by the `JoinHandle` state.
pub(crate) trait JoinControl {
    fn cancelled(&self);
    fn panicked(&self, payload: Box<dyn std::any::Any + Send>, handled: Arc<AtomicBool>, message: String);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskState {
    Ready,
    Waiting,
    Completed,
    Panicked,
    Cancelled,
}

impl TaskState {
    pub(crate) fn word(self) -> &'static str {
        match self {
            TaskState::Ready => "ready",
            TaskState::Waiting => "waiting",
            TaskState::Completed => "completed",
            TaskState::Panicked => "panicked",
            TaskState::Cancelled => "cancelled",
        }
    }
}

/// Per-task bookkeeping kept after the task ends, for reports (the task's description
/// is kept once, in [`Shared::metas`]).
#[derive(Clone, Copy)]
pub(crate) struct TaskStats {
    pub(crate) state: TaskState,
    pub(crate) polls: u64,
    pub(crate) last_poll: Option<Duration>,
}

/// A task's description and bookkeeping, for reports.
#[derive(Clone)]
pub(crate) struct TaskInfo {
    pub(crate) meta: TaskMeta,
    pub(crate) state: TaskState,
    pub(crate) polls: u64,
    pub(crate) last_poll: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use std::backtrace::Backtrace;
    use std::panic::Location;
    use std::sync::{Arc, OnceLock};

    use super::{SpawnSite, ThroughStd, first_caller, in_std};

    #[test]
    fn a_site_in_std_names_the_test_frame_or_says_why_it_cannot() {
        let at = Location::caller();
        let site = |found: Option<&str>| SpawnSite {
            at,
            through_std: Some(Arc::new(ThroughStd {
                stack: Backtrace::disabled(),
                found: OnceLock::from(found.map(str::to_string)),
            })),
        };
        assert_eq!(site(Some("tests/it.rs:12:40")).to_string(), "tests/it.rs:12:40");
        assert_eq!(
            site(None).to_string(),
            format!(
                "{at} (in the standard library: the spawn was called by an iterator adapter such as collect or \
                 map, which does not pass on its caller's place, and the stack named no frame of the test's; \
                 spawn in a for loop, or with extend, to have the call named)"
            )
        );
        assert_eq!(
            SpawnSite::new(at).to_string(),
            at.to_string(),
            "not std's: the location itself"
        );
    }

    #[test]
    fn std_paths_are_told_from_the_tests() {
        assert!(in_std(
            "/rustc/59807616e1fa/library/core/src/iter/traits/iterator.rs"
        ));
        assert!(in_std("/home/me/rust/library/alloc/src/vec/mod.rs"));
        assert!(in_std("library/std/src/thread/mod.rs"));
        assert!(!in_std("tests/library.rs"));
        assert!(!in_std("my-library/core/src/lib.rs"));
        assert!(!in_std(
            "/root/.cargo/registry/src/index.crates.io-1/tokio-1.54.1/src/task/spawn.rs"
        ));
    }

    #[test]
    fn the_caller_is_the_first_frame_outside_std_tokio_and_the_kit() {
        let stack = "   0: std::backtrace::Backtrace::force_capture
             at /rustc/abc/library/std/src/backtrace.rs:312:9
   1: async_testkit::runtime::tasks::SpawnSite::through_std
             at ./src/runtime/tasks.rs:70:24
   2: <async_testkit_tokio::task::JoinSet<T> as core::iter::traits::collect::FromIterator<F>>::from_iter
             at ./async-testkit-tokio/src/task.rs:900:9
   3: <&mut F as core::ops::function::FnOnce<A>>::call_once
             at /rustc/abc/library/core/src/ops/function.rs:305:13
   4: core::iter::traits::iterator::Iterator::collect
             at /rustc/abc/library/core/src/iter/traits/iterator.rs:2064:9
   5: my_tests::it::{{closure}}
             at ./tests/it.rs:12:40
   6: main";
        assert_eq!(first_caller(stack).as_deref(), Some("tests/it.rs:12:40"));
        // Without debug information: no file is named.
        assert_eq!(
            first_caller("   0: std::rt::lang_start\n   1: my_tests::it\n"),
            None
        );
    }
}
