//! mockall with a trait whose methods return futures, made to wait on virtual time with
//! `async_testkit::mock::mockall::{delayed, pending, gated}`.
//!
//! Run the tests with `cargo test --example mockall_futures`.

use std::future::Future;
use std::time::Duration;

/// A payment gateway. Declared with `-> impl Future + Send` rather than `async fn`, so
/// mockall's expectations can return futures that take time (see the module docs of
/// `async_testkit::mock::mockall` for why `async fn` cannot).
#[mockall::automock]
pub trait Gateway {
    fn charge(&self, cents: u64) -> impl Future<Output = Result<String, String>> + Send;
}

/// Charges with a deadline; a charge that does not answer in time is reported as unknown.
pub async fn pay(gateway: &impl Gateway, cents: u64) -> Result<String, String> {
    match tokio::time::timeout(Duration::from_secs(3), gateway.charge(cents)).await {
        Ok(result) => result,
        Err(_) => Err("payment state unknown: the gateway did not answer within 3s".to_string()),
    }
}

fn main() {
    let receipt = async_testkit::run(async {
        let mut gateway = MockGateway::new();
        gateway.expect_charge().returning(|cents| {
            async_testkit::mock::mockall::delayed(Duration::from_millis(800), Ok(format!("r-{cents}")))
        });
        pay(&gateway, 1999).await
    });
    println!("{receipt:?}");
}

#[cfg(test)]
mod tests {
    use async_testkit::mock::Gate;
    use async_testkit::mock::mockall::{delayed, gated, pending};
    use mockall::predicate::eq;

    use super::*;

    #[async_testkit::test]
    async fn a_slow_gateway_still_answers_within_the_deadline() {
        let mut gateway = MockGateway::new();
        gateway
            .expect_charge()
            .with(eq(500))
            .times(1)
            .returning(|cents| delayed(Duration::from_millis(2900), Ok(format!("r-{cents}"))));
        assert_eq!(pay(&gateway, 500).await, Ok("r-500".to_string()));
        assert_eq!(async_testkit::time::elapsed(), Duration::from_millis(2900));
    }

    #[async_testkit::test]
    async fn a_hanging_gateway_hits_the_deadline() {
        let mut gateway = MockGateway::new();
        gateway.expect_charge().returning(|_| pending());
        assert_eq!(
            pay(&gateway, 500).await,
            Err("payment state unknown: the gateway did not answer within 3s".to_string())
        );
        assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(3));
    }

    #[async_testkit::test]
    async fn the_test_decides_when_the_charge_completes() {
        let gate = Gate::new();
        let mut gateway = MockGateway::new();
        let g = gate.clone();
        gateway
            .expect_charge()
            .returning(move |_| gated(&g, Ok("r-1".to_string())));
        let payment = async_testkit::spawn(async move { pay(&gateway, 100).await });
        gate.entered().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!payment.is_finished(), "held at the gate");
        gate.release();
        assert_eq!(payment.await.unwrap(), Ok("r-1".to_string()));
        assert_eq!(async_testkit::time::elapsed(), Duration::from_secs(1));
    }
}
