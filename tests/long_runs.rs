//! What a long run keeps is bounded: a failure's trace, its Chrome trace and its
//! recorded schedule stop growing past their caps (100,000 events, the first and the last
//! halves; 100,000 choices), and the report says what was left out.

use std::time::Duration;

use async_testkit::{Builder, FailureKind, Strategy, spawn, yield_point};

/// The most events a trace keeps, and choices a run records (the crate's docs say so).
const KEPT_EVENTS: usize = 100_000;
const RECORDED_CHOICES: usize = 100_000;

/// The number in `text` right after `before`.
fn number_after(text: &str, before: &str) -> u64 {
    let at = text
        .find(before)
        .unwrap_or_else(|| panic!("no {before:?} in:\n{text}"))
        + before.len();
    text[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {before:?} in:\n{text}"))
}

/// Two tasks that yield to each other: every step is a choice between them, and each
/// poll makes three events.
async fn ping_pong(rounds: u32) {
    let other = spawn(async move {
        for _ in 0..rounds {
            yield_point().await;
        }
    });
    for _ in 0..rounds {
        yield_point().await;
    }
    other.await.unwrap();
}

/// An exploration under FIFO: its first schedule's failure is reported from two traced
/// replays, with nothing to minimise.
fn fifo_exploration(name: &str) -> Builder {
    Builder::new().name(name).strategy(Strategy::Fifo).explore(2)
}

#[test]
fn a_failure_after_a_long_run_keeps_a_bounded_trace_and_schedule_and_says_so() {
    let f = fifo_exploration("long_run")
        .try_run(|| async {
            ping_pong(60_000).await;
            panic!("after a long run");
        })
        .unwrap_err();
    let text = f.to_string();
    assert_eq!(f.kind(), FailureKind::Panic, "{text}");

    let events = number_after(&text, "trace: truncated: the run had ");
    assert!(events > 3 * KEPT_EVENTS as u64, "{text}");
    assert!(
        text.contains(&format!(
            "the trace keeps at most {KEPT_EVENTS}: the first {} and the last {}",
            KEPT_EVENTS / 2,
            KEPT_EVENTS / 2
        )),
        "{text}"
    );
    let json = f.chrome_trace().unwrap();
    assert_eq!(json.matches("trace truncated: events").count(), 1);
    // One entry per kept event, one thread name per task, the gap.
    assert!(json.matches("\"ph\":").count() <= KEPT_EVENTS + 3 + 1);

    let choices = number_after(&text, "schedule: truncated: the run made ");
    assert!(choices > RECORDED_CHOICES as u64, "{text}");
    assert!(
        text.contains(&format!(
            "scheduling choices and records the first {RECORDED_CHOICES}:"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "the failing run makes {RECORDED_CHOICES} scheduling choices or more (the most a run records)"
        )),
        "{text}"
    );
    assert!(f.schedule().choices().len() <= RECORDED_CHOICES);
    // The replays follow the recorded choices and the same FIFO after them: deterministic.
    assert!(!text.contains("nondeterminism"), "{text}");
}

/// A livelock until the wall-clock limit: the wall limit stops each replay of the minimal
/// schedule at another step, which is no sign of nondeterminism.
#[test]
fn a_livelock_until_the_wall_limit_is_not_called_nondeterministic() {
    let f = fifo_exploration("livelock")
        .timeout(Duration::from_millis(300))
        .try_run(|| async {
            spawn(async {
                loop {
                    yield_point().await;
                }
            });
            loop {
                yield_point().await;
            }
        })
        .unwrap_err();
    let text = f.to_string();
    assert_eq!(f.kind(), FailureKind::WallTimeout, "{text}");
    assert!(!text.contains("nondeterminism"), "{text}");
    // Not minimised: each replay would run until the wall limit.
    assert!(
        text.contains(
            "not minimised: a wall-clock timeout depends on the machine's speed, and each replay would take \
             its wall time, so the schedule is the one found ("
        ),
        "{text}"
    );
    assert!(f.chrome_trace().unwrap().matches("\"ph\":").count() <= KEPT_EVENTS + 3 + 1);
    assert!(f.schedule().choices().len() <= RECORDED_CHOICES);
}
