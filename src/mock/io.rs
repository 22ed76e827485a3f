//! Scripted I/O on virtual time: [`IoScript`] builds a [`ScriptedIo`], an
//! `AsyncRead + AsyncWrite` that plays a script of reads, writes, waits and errors.
//!
//! It follows tokio-test's `io::Builder` in spirit, and differs where tokio-test hangs or
//! panics inside the code under test: a script that is not followed fails the *test*
//! through the kit's runtime, with a message showing the script and where it went off,
//! and the offending read or write gets an I/O error so the code under test does not hang:
//!
//! - a write of other bytes than the script expects, a write while the script expects the
//!   code to read, or a write after the script's end;
//! - steps left over when the test body returns (or when the `ScriptedIo` is dropped).
//!
//! A read while the script expects a write waits for that write (the writer may be
//! another task); if nothing ever writes, every task waits, and the run stops at once
//! (in virtual time) and fails naming the step the script was waiting for, instead of
//! hanging. A read after the script's end reads end-of-file.
//!
//! A `ScriptedIo` built outside a test's closure and shared by the runs of an exploration
//! plays its script from the start in each run, and each run checks it at its end.
//!
//! ```
//! use std::time::Duration;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use async_testkit::mock::io::IoScript;
//!
//! async_testkit::run(async {
//!     let mut conn = IoScript::named("smtp")
//!         .read(b"220 ready\r\n")
//!         .write(b"HELO me\r\n")
//!         .wait(Duration::from_secs(2))
//!         .read(b"250 ok\r\n")
//!         .build();
//!     let mut buf = [0; 64];
//!     let n = conn.read(&mut buf).await.unwrap();
//!     assert_eq!(&buf[..n], b"220 ready\r\n");
//!     conn.write_all(b"HELO me\r\n").await.unwrap();
//!     let n = conn.read(&mut buf).await.unwrap();
//!     assert_eq!(&buf[..n], b"250 ok\r\n");
//!     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(2));
//! });
//! ```

use std::fmt;
use std::io;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::script::{self, Script};
use crate::util::lock;

/// One step of a script.
#[derive(Clone, Debug)]
enum IoStep {
    Read(Vec<u8>),
    Write(Vec<u8>),
    Wait(Duration),
    ReadError(io::ErrorKind),
    WriteError(io::ErrorKind),
}

impl fmt::Display for IoStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IoStep::Read(b) => write!(f, "read b\"{}\"", b.escape_ascii()),
            IoStep::Write(b) => write!(f, "write b\"{}\"", b.escape_ascii()),
            IoStep::Wait(d) => write!(f, "wait {d:?}"),
            IoStep::ReadError(k) => write!(f, "read error {k:?}"),
            IoStep::WriteError(k) => write!(f, "write error {k:?}"),
        }
    }
}

/// Builds a [`ScriptedIo`]: the steps, in the order the code under test must follow them.
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use async_testkit::mock::io::IoScript;
/// async_testkit::run(async {
///     let mut io = IoScript::new().read(b"ping").write(b"pong").build();
///     let mut buf = [0; 4];
///     io.read_exact(&mut buf).await.unwrap();
///     io.write_all(b"pong").await.unwrap();
/// });
/// ```
#[derive(Clone, Debug)]
pub struct IoScript {
    name: Option<String>,
    steps: Vec<IoStep>,
    site: &'static Location<'static>,
}

impl IoScript {
    /// An empty script; messages call it "the I/O script built at" this location.
    ///
    /// ```
    /// let script = async_testkit::mock::io::IoScript::new();
    /// # let _ = script;
    /// ```
    #[track_caller]
    pub fn new() -> Self {
        IoScript {
            name: None,
            steps: Vec::new(),
            site: Location::caller(),
        }
    }

    /// An empty script with a name for messages.
    ///
    /// ```
    /// let script = async_testkit::mock::io::IoScript::named("conn");
    /// # let _ = script;
    /// ```
    #[track_caller]
    pub fn named(name: impl Into<String>) -> Self {
        IoScript {
            name: Some(name.into()),
            ..IoScript::new()
        }
    }

    fn step(mut self, step: IoStep) -> Self {
        self.steps.push(step);
        self
    }

    /// The code reads these bytes (over one read or several).
    ///
    /// ```
    /// use tokio::io::AsyncReadExt;
    /// async_testkit::run(async {
    ///     let mut io = async_testkit::mock::io::IoScript::new().read(b"abc").build();
    ///     let mut s = String::new();
    ///     io.read_to_string(&mut s).await.unwrap();
    ///     assert_eq!(s, "abc");
    /// });
    /// ```
    pub fn read(self, bytes: impl AsRef<[u8]>) -> Self {
        self.step(IoStep::Read(bytes.as_ref().to_vec()))
    }

    /// The code writes exactly these bytes (over one write or several).
    ///
    /// ```
    /// use tokio::io::AsyncWriteExt;
    /// async_testkit::run(async {
    ///     let mut io = async_testkit::mock::io::IoScript::new().write(b"abc").build();
    ///     io.write_all(b"a").await.unwrap();
    ///     io.write_all(b"bc").await.unwrap();
    /// });
    /// ```
    pub fn write(self, bytes: impl AsRef<[u8]>) -> Self {
        self.step(IoStep::Write(bytes.as_ref().to_vec()))
    }

    /// Reads and writes wait this long (virtual time) before the script goes on.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokio::io::AsyncReadExt;
    /// async_testkit::run(async {
    ///     let mut io = async_testkit::mock::io::IoScript::new()
    ///         .wait(Duration::from_secs(30))
    ///         .read(b"late")
    ///         .build();
    ///     let mut buf = [0; 4];
    ///     io.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(30));
    /// });
    /// ```
    pub fn wait(self, duration: Duration) -> Self {
        self.step(IoStep::Wait(duration))
    }

    /// The next read fails with an error of this kind.
    ///
    /// ```
    /// use tokio::io::AsyncReadExt;
    /// async_testkit::run(async {
    ///     let mut io = async_testkit::mock::io::IoScript::new()
    ///         .read_error(std::io::ErrorKind::ConnectionReset)
    ///         .build();
    ///     let err = io.read(&mut [0; 8]).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    /// });
    /// ```
    pub fn read_error(self, kind: io::ErrorKind) -> Self {
        self.step(IoStep::ReadError(kind))
    }

    /// The next write fails with an error of this kind.
    ///
    /// ```
    /// use tokio::io::AsyncWriteExt;
    /// async_testkit::run(async {
    ///     let mut io = async_testkit::mock::io::IoScript::new()
    ///         .write_error(std::io::ErrorKind::BrokenPipe)
    ///         .build();
    ///     let err = io.write(b"x").await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    /// });
    /// ```
    pub fn write_error(self, kind: io::ErrorKind) -> Self {
        self.step(IoStep::WriteError(kind))
    }

    /// The scripted I/O object. Inside a kit run, the run checks at its end that the
    /// script was followed to the end.
    ///
    /// ```
    /// use tokio::io::AsyncWriteExt;
    /// let f = async_testkit::Builder::new()
    ///     .try_run(|| async {
    ///         let mut io = async_testkit::mock::io::IoScript::named("conn")
    ///             .write(b"hi")
    ///             .read(b"yo")
    ///             .build();
    ///         io.write_all(b"hi").await.unwrap();
    ///         std::mem::forget(io); // not even dropped: the run still checks it
    ///     })
    ///     .unwrap_err();
    /// assert!(f.headline().starts_with("I/O script `conn` was not followed to its end: 1 of 2 steps left"));
    /// ```
    pub fn build(self) -> ScriptedIo {
        let steps = self.steps.into_iter().map(|s| {
            let d = s.to_string();
            (s, d)
        });
        ScriptedIo {
            script: Script::start(
                "I/O",
                self.name.as_deref(),
                self.site,
                steps.collect(),
                Some(IoStep::clone),
            ),
            sleep: None,
        }
    }
}

impl Default for IoScript {
    #[track_caller]
    fn default() -> Self {
        IoScript::new()
    }
}

impl script::ScriptStep for IoStep {
    fn wait(&self) -> Option<Duration> {
        match self {
            IoStep::Wait(d) => Some(*d),
            _ => None,
        }
    }
}

/// An `AsyncRead + AsyncWrite` that plays an [`IoScript`]; see the [module docs](self)
/// for what happens when the code under test does not follow it.
///
/// Outside a kit run, a broken script panics where it breaks, and one dropped with steps
/// left panics on drop (unless the thread is already panicking).
///
/// ```
/// use tokio::io::AsyncWriteExt;
/// let f = async_testkit::Builder::new()
///     .try_run(|| async {
///         let mut io = async_testkit::mock::io::IoScript::named("conn").write(b"GET").build();
///         let err = io.write_all(b"PUT").await.unwrap_err(); // the code sees an error...
///         assert_eq!(err.kind(), std::io::ErrorKind::Other);
///     })
///     .unwrap_err(); // ...and the test fails
/// assert_eq!(
///     f.headline().lines().next().unwrap(),
///     "I/O script `conn`: unexpected write at step 1 of 1: expected b\"GET\", got b\"PUT\""
/// );
/// ```
pub struct ScriptedIo {
    script: Arc<Mutex<Script<IoStep>>>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl fmt::Debug for ScriptedIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.script);
        f.debug_struct("ScriptedIo")
            .field("script", &s.label)
            .field("steps_left", &s.left.len())
            .finish()
    }
}

impl AsyncRead for ScriptedIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        script::adopt_current(&this.script);
        if script::poll_wait(&this.script, &mut this.sleep, cx).is_pending() {
            return Poll::Pending;
        }
        let mut s = lock(&this.script);
        match s.left.front_mut() {
            None => Poll::Ready(Ok(())), // end of file
            Some(IoStep::Read(data)) => {
                let n = data.len().min(buf.remaining());
                buf.put_slice(&data[..n]);
                data.drain(..n);
                if data.is_empty() {
                    s.advance();
                }
                Poll::Ready(Ok(()))
            }
            Some(IoStep::ReadError(kind)) => {
                let kind = *kind;
                s.advance();
                Poll::Ready(Err(io::Error::new(kind, "scripted read error")))
            }
            // The script expects a write first: wait for it (another task may write).
            Some(IoStep::Write(_) | IoStep::WriteError(_) | IoStep::Wait(_)) => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for ScriptedIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, got: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        script::adopt_current(&this.script);
        if script::poll_wait(&this.script, &mut this.sleep, cx).is_pending() {
            return Poll::Pending;
        }
        let mut s = lock(&this.script);
        let step = s.step_no();
        let broken = match s.left.front_mut() {
            None => format!("the code wrote {} after the script ended", b_str(got)),
            Some(IoStep::Write(expected)) => {
                let n = expected.len().min(got.len());
                if expected[..n] == got[..n] {
                    expected.drain(..n);
                    if expected.is_empty() {
                        s.advance();
                    }
                    return Poll::Ready(Ok(n));
                }
                format!(
                    "unexpected write at {step}: expected {}, got {}",
                    b_str(expected),
                    b_str(got)
                )
            }
            Some(IoStep::WriteError(kind)) => {
                let kind = *kind;
                s.advance();
                return Poll::Ready(Err(io::Error::new(kind, "scripted write error")));
            }
            Some(other) => {
                let other = other.to_string();
                format!(
                    "the code wrote {} at {step}, but the script expects it to {other} first",
                    b_str(got)
                )
            }
        };
        Poll::Ready(Err(io::Error::other(s.broken(broken))))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn b_str(bytes: &[u8]) -> String {
    format!("b\"{}\"", bytes.escape_ascii())
}

impl Drop for ScriptedIo {
    fn drop(&mut self) {
        script::check_dropped(&self.script);
    }
}
