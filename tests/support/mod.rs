//! Helpers shared by the integration tests.

#![allow(dead_code)] // each test file uses some of them

use std::future::Future;

use async_testkit::{Builder, Failure, FailureKind};

/// Runs `body`, expects it to fail with exactly one panic, and returns the panic's message.
#[track_caller]
pub fn panic_message<F, Fut>(body: F) -> String
where
    F: Fn() -> Fut,
    Fut: Future + 'static,
    Fut::Output: 'static,
{
    let failure = match Builder::new().try_run(body) {
        Ok(_) => panic!("the run passed, but it should have failed with a panic"),
        Err(f) => f,
    };
    assert_eq!(failure.kind(), FailureKind::Panic, "{failure}");
    assert_eq!(failure.panic_messages().len(), 1, "{failure}");
    failure.panic_messages()[0].clone()
}

/// Calls `f`, expects it to panic, and returns the panic's message.
pub fn caught_panic(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(f).expect_err("expected a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(a panic payload that is not a string)".to_string())
}

/// The line of `source` that carries the comment `// <marker>` (written in the test file,
/// so failure messages can be checked against exact call sites).
pub fn line_of(source: &str, marker: &str) -> u32 {
    let comment = format!("// {marker}");
    let hits: Vec<usize> = source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(&comment))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(hits.len(), 1, "marker {marker} should be on exactly one line");
    hits[0] as u32
}

/// Runs `body` on a fresh kit runtime and returns how the run failed.
///
/// # Panics
///
/// If the run passes.
pub fn fails<F, Fut>(body: F) -> Failure
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    Builder::new().try_run(body).unwrap_err()
}

/// Replaces each `<file>:LINE:COL` in `text` with `<site>`, so messages that name call
/// sites compare exactly.
pub fn sites(text: &str, file: &str) -> String {
    let prefix = format!("{file}:");
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(&prefix) {
        out.push_str(&rest[..i]);
        let after = &rest[i + prefix.len()..];
        let line = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
        let col = after[line..].strip_prefix(':').map_or(0, |c| {
            1 + c.find(|c: char| !c.is_ascii_digit()).unwrap_or(c.len())
        });
        out.push_str("<site>");
        rest = &after[line + col..];
    }
    out.push_str(rest);
    out
}
