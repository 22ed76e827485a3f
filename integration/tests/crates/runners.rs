//! Test-case generators around `#[async_testkit::test]`: rstest and test-case put the kit's
//! attribute on each generated case, so every case runs under the kit.

use std::time::Duration;

use rstest::rstest;
use test_case::test_case;

#[rstest]
#[case(100, 1)]
#[case(250, 4)]
#[async_testkit::test]
async fn rstest_cases_run_on_virtual_time(#[case] period_ms: u64, #[case] ticks: u32) {
    let mut interval = tokio::time::interval(Duration::from_millis(period_ms));
    for _ in 0..=ticks {
        interval.tick().await;
    }
    assert_eq!(
        async_testkit::time::elapsed(),
        Duration::from_millis(period_ms * u64::from(ticks))
    );
}

#[test_case(1 ; "one second")]
#[test_case(3600 ; "one hour")]
#[async_testkit::test]
async fn test_case_cases_run_on_virtual_time(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
    assert_eq!(async_testkit::time::elapsed().as_secs(), secs);
}
