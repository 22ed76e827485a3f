//! Small helpers every layer of the crate uses.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, ignoring poisoning: the kit's own state stays consistent across a
/// panic because every critical section is a few assignments.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
