//! Exploration finding a real ordering bug in a small component built on moka and tokio:
//! a read-through price cache in front of a slow backend. The bug is the classic
//! check-then-act race of a cache-aside read: a reader fetches the old price, a writer
//! stores the new one and invalidates the cache, then the reader caches the old price,
//! which stays stale until it expires. One FIFO run passes; exploration finds the order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_testkit::{Builder, FailureKind};

/// A store one network round trip (1 ms) away.
#[derive(Clone, Default)]
struct Backend {
    prices: Arc<Mutex<HashMap<&'static str, u64>>>,
}

impl Backend {
    async fn read(&self, item: &'static str) -> u64 {
        let price = self.prices.lock().unwrap().get(item).copied().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(1)).await; // the reply's way back
        price
    }

    async fn write(&self, item: &'static str, price: u64) {
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.prices.lock().unwrap().insert(item, price);
    }
}

/// The cache-aside catalog. `fixed` turns on the cure: a generation counter bumped by
/// every write, and a reader caches what it fetched only if no write happened meanwhile.
#[derive(Clone)]
struct Catalog {
    cache: moka::sync::Cache<&'static str, u64>,
    backend: Backend,
    generation: Arc<AtomicU64>,
    fixed: bool,
}

impl Catalog {
    fn new(backend: Backend, fixed: bool) -> Self {
        Self {
            cache: moka::sync::Cache::new(100),
            backend,
            generation: Arc::default(),
            fixed,
        }
    }

    async fn price(&self, item: &'static str) -> u64 {
        if let Some(price) = self.cache.get(&item) {
            return price;
        }
        let seen = self.generation.load(Ordering::SeqCst);
        let price = self.backend.read(item).await;
        if !self.fixed || self.generation.load(Ordering::SeqCst) == seen {
            self.cache.insert(item, price);
        }
        price
    }

    async fn set_price(&self, item: &'static str, price: u64) {
        self.backend.write(item, price).await;
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate(&item);
    }
}

/// A reader and a writer at once; afterwards the cache must agree with the backend.
async fn reader_and_writer(fixed: bool) {
    let backend = Backend::default();
    backend.prices.lock().unwrap().insert("apple", 1);
    let catalog = Catalog::new(backend, fixed);
    let reader = async_testkit::spawn({
        let catalog = catalog.clone();
        async move { catalog.price("apple").await }
    });
    let writer = async_testkit::spawn({
        let catalog = catalog.clone();
        async move { catalog.set_price("apple", 2).await }
    });
    let seen = reader.await.unwrap();
    writer.await.unwrap();
    assert!(seen == 1 || seen == 2, "the reader saw {seen}");
    assert_eq!(catalog.price("apple").await, 2, "stale cache: the write is lost");
}

#[test]
fn one_fifo_run_misses_the_race() {
    let report = Builder::new().try_run(|| reader_and_writer(false));
    assert!(report.is_ok(), "{}", report.unwrap_err());
}

#[test]
fn exploration_finds_the_stale_cache_race() {
    let failure = Builder::new()
        .explore(200)
        .try_run(|| reader_and_writer(false))
        .unwrap_err();
    assert_eq!(failure.kind(), FailureKind::Panic, "{failure}");
    assert_eq!(failure.panic_messages().len(), 1, "{failure}");
    let message = &failure.panic_messages()[0];
    assert!(message.contains("stale cache: the write is lost"), "{message}");
    assert!(
        message.contains("left: 1") && message.contains("right: 2"),
        "{message}"
    );
    // The report carries a one-line token that replays the failing schedule.
    assert!(
        failure.to_string().contains("ASYNC_TESTKIT_REPLAY=atk1:"),
        "{failure}"
    );
    // Replaying that schedule fails the same way, every time.
    let replayed = Builder::new()
        .replay(failure.schedule().clone())
        .try_run(|| reader_and_writer(false))
        .unwrap_err();
    assert_eq!(replayed.panic_messages(), failure.panic_messages());
}

#[async_testkit::test(explore = 200)]
async fn the_fixed_catalog_passes_every_explored_schedule() {
    reader_and_writer(true).await;
}
