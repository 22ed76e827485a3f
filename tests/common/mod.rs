//! Helpers shared by the integration tests.

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

/// Runs `body` on a fresh kit runtime and returns how the run failed.
///
/// # Panics
///
/// If the run passes.
pub fn fails<F, Fut>(body: F) -> async_testkit::Failure
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + 'static,
{
    async_testkit::Builder::new().try_run(body).unwrap_err()
}
