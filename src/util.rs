//! Small helpers every layer of the crate uses.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Locks a mutex, ignoring poisoning: the kit's own state stays consistent across a
/// panic because every critical section is a few assignments.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The symbol of a line of a captured backtrace that opens a frame (`  3: my_crate::f`),
/// not of an `at file:line` line.
pub(crate) fn frame_symbol(line: &str) -> Option<&str> {
    let (n, symbol) = line.trim_start().split_once(": ")?;
    n.chars().all(|c| c.is_ascii_digit()).then_some(symbol)
}

/// How far past now a deadline that would overflow the clock is put instead: 30 years
/// of 365 days, past the end of any test.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 86_400);

/// A duration as whole nanoseconds, saturating at `u64::MAX` (some 584 years).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// This thread's name as the kernel keeps it (`/proc/thread-self/comm`: at most 15
/// bytes, and a newline), read once per thread (std cannot rename a running thread);
/// `None` where it cannot be read, and off Linux.
pub(crate) fn thread_comm() -> Option<Vec<u8>> {
    #[cfg(target_os = "linux")]
    {
        thread_local! {
            static COMM: std::cell::OnceCell<Option<Vec<u8>>> = const { std::cell::OnceCell::new() };
        }
        COMM.try_with(|c| {
            c.get_or_init(|| std::fs::read("/proc/thread-self/comm").ok())
                .clone()
        })
        .ok()
        .flatten()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_saturate() {
        assert_eq!(nanos(Duration::from_millis(3)), 3_000_000);
        assert_eq!(nanos(Duration::MAX), u64::MAX);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn thread_comm_is_the_threads_name_as_the_kernel_keeps_it() {
        let comm = std::thread::Builder::new()
            .name("a-long-thread-name-cut-at-15".into())
            .spawn(|| (thread_comm(), thread_comm()))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(comm.0.as_deref(), Some(&b"a-long-thread-n\n"[..]));
        assert_eq!(comm.0, comm.1);
    }
}
