//! proptest integration: inputs and interleavings shrink together.

use std::cell::RefCell;
use std::rc::Rc;

use async_testkit::proptest::{run_with, schedule};
use async_testkit::{Builder, Schedule, spawn, yield_point};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};

/// Each worker deposits into a shared balance with a yield point in its step. Buggy: it
/// reads the balance before the yield and writes back `seen + d` after it (a lost update).
/// Fixed: it reads and writes in one step after the yield.
async fn make_deposits(deposits: Vec<u32>, fixed: bool) -> u32 {
    let balance = Rc::new(RefCell::new(0u32));
    let tasks: Vec<_> = deposits
        .into_iter()
        .map(|d| {
            let b = balance.clone();
            spawn(async move {
                let seen = *b.borrow();
                yield_point().await;
                if fixed {
                    *b.borrow_mut() += d;
                } else {
                    *b.borrow_mut() = seen + d;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    *balance.borrow()
}

async fn deposit_all(d: Vec<u32>) -> u32 {
    make_deposits(d, false).await
}

/// A runner whose random cases are the same on every run.
fn runner() -> TestRunner {
    let config = Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

#[test]
fn a_failing_case_shrinks_its_inputs_and_its_schedule_together() {
    let strategy = (proptest::collection::vec(1u32..100, 1..6), schedule());
    let check = |deposits: &Vec<u32>, s: &Schedule| {
        let total: u32 = deposits.iter().sum();
        let d = deposits.clone();
        (run_with(s, move || deposit_all(d.clone())), total)
    };
    let result = runner().run(&strategy, |(deposits, s)| {
        let (got, total) = check(&deposits, &s);
        prop_assert_eq!(got, total);
        Ok(())
    });
    let Err(TestError::Fail(_, (deposits, s))) = result else {
        panic!("the lost update was not found: {result:?}")
    };
    // Every deposit shrank to the smallest amount; at least two are needed to lose one.
    assert!(
        deposits.len() >= 2 && deposits.iter().all(|&d| d == 1),
        "{deposits:?}"
    );
    // The schedule shrank too (proptest shortens it toward FIFO), and it still fails.
    assert!(s.choices().len() <= 2, "{s}");
    let (got, total) = check(&deposits, &s);
    assert_ne!(got, total);
}

#[test]
fn a_shrunk_schedule_replays_its_failure() {
    // A bug that needs one preemption: the body expects its task to have run at the yield.
    let body = || async {
        let t = spawn(async {});
        yield_point().await;
        assert!(t.is_finished(), "the task had not run yet");
        t.await.unwrap();
    };
    let result = runner().run(&schedule(), |s| {
        run_with(&s, body);
        Ok(())
    });
    let Err(TestError::Fail(reason, s)) = result else {
        panic!("not found: {result:?}")
    };
    assert!(reason.message().contains("the task had not run yet"), "{reason}");
    assert_eq!(s.choices(), [1], "shrunk to the one choice that matters");
    let f = Builder::new().replay(s).try_run(body).unwrap_err();
    assert_eq!(f.panic_messages(), ["the task had not run yet"]);
}

#[test]
fn schedules_from_bytes_drive_runs_like_a_fuzzer_would() {
    for bytes in [&[][..], &[0, 1, 2], &[255; 32]] {
        let s = Schedule::from_bytes(bytes);
        let v = run_with(&s, || async {
            let a = spawn(async { 1 });
            let b = spawn(async { 2 });
            a.await.unwrap() + b.await.unwrap()
        });
        assert_eq!(v, 3);
    }
}

proptest! {
    #![proptest_config(Config { cases: 64, failure_persistence: None, ..Config::default() })]

    /// The fixed version passes under every generated schedule.
    #[test]
    fn atomic_deposits_never_lose_money(deposits in proptest::collection::vec(1u32..100, 1..6), s in schedule()) {
        let total: u32 = deposits.iter().sum();
        let d = deposits.clone();
        let got = run_with(&s, move || make_deposits(d.clone(), true));
        prop_assert_eq!(got, total);
    }
}
