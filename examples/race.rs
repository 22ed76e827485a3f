//! A race found, minimised and replayed: `cargo run --example race`.
//!
//! A bank account's `deposit` reads the balance, awaits an audit log write, and writes
//! the balance back: two deposits at once can lose one. The kit explores schedules until
//! one loses money, shrinks it to the fewest preemptions that still lose money, and prints
//! the report with a one-line replay token; then the fixed account passes the same budget.

use std::rc::Rc;
use std::time::Duration;

use async_testkit::{Builder, DEFAULT_EXPLORE, Failure, Schedule, task};

/// An account whose deposit is not atomic across an await.
#[derive(Default)]
struct Account {
    balance: std::cell::Cell<u64>,
    audit: tokio::sync::Mutex<Vec<String>>,
}

impl Account {
    async fn deposit(&self, amount: u64) {
        let before = self.balance.get();
        self.audit.lock().await.push(format!("deposit {amount}")); // an await in between
        self.balance.set(before + amount);
    }

    async fn deposit_fixed(&self, amount: u64) {
        self.balance.set(self.balance.get() + amount); // read and write in one step
        self.audit.lock().await.push(format!("deposit {amount}"));
    }
}

/// Two customers deposit at once, while the auditor holds the log for a moment.
async fn two_deposits(fixed: bool) {
    let account = Rc::new(Account::default());
    let auditor = {
        let a = account.clone();
        task::Builder::new().name("auditor").spawn(async move {
            let _log = a.audit.lock().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        })
    };
    let customers: Vec<_> = [("alice", 100), ("bob", 50)]
        .into_iter()
        .map(|(name, amount)| {
            let a = account.clone();
            task::Builder::new().name(name).spawn(async move {
                if fixed {
                    a.deposit_fixed(amount).await
                } else {
                    a.deposit(amount).await
                }
            })
        })
        .collect();
    for c in customers {
        c.await.unwrap();
    }
    auditor.await.unwrap();
    assert_eq!(account.balance.get(), 150, "a deposit was lost");
}

fn explore(fixed: bool) -> Result<u32, Failure> {
    Builder::new()
        .name("race::two_deposits")
        .explore(DEFAULT_EXPLORE)
        .try_run(move || two_deposits(fixed))
        .map(|r| r.schedules())
}

fn main() {
    let failure = explore(false).expect_err("the race should be found");
    println!("{failure}\n");
    let token = failure.schedule().to_token();
    let again = Builder::new()
        .replay(Schedule::from_token(&token).unwrap())
        .try_run(|| two_deposits(false))
        .expect_err("the token replays the failure");
    println!("replaying {token} fails again: {}", again.headline());
    println!("the fixed account passes {} schedules", explore(true).unwrap());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_race_is_found_minimised_and_replayed() {
        let f = explore(false).unwrap_err();
        assert_eq!(
            f.panic_messages()[0].lines().next(),
            Some("assertion `left == right` failed: a deposit was lost")
        );
        assert_eq!(
            f.schedule().preemptions(),
            0,
            "FIFO already interleaves the two deposits at the lock"
        );
        let again = Builder::new()
            .replay(f.schedule().clone())
            .try_run(|| two_deposits(false))
            .unwrap_err();
        assert_eq!(again.panic_messages(), f.panic_messages());
    }

    #[test]
    fn the_fixed_account_passes_the_default_budget() {
        assert_eq!(explore(true).unwrap(), DEFAULT_EXPLORE);
    }
}
