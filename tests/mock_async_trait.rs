//! `#[async_testkit::mock]` on traits under `#[async_trait::async_trait]`, in both
//! attribute orders, with borrowed arguments, and with tower's `BoxError` in the output.

use std::time::Duration;

/// tower's `BoxError`.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The mock's attribute above async-trait's.
#[async_testkit::mock]
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    async fn get(&self, key: &str) -> Option<String>;
    async fn put(&self, key: String, value: Vec<u8>) -> Result<(), BoxError>;
    async fn ping(&self);
}

/// The mock's attribute below async-trait's.
#[async_trait::async_trait]
#[async_testkit::mock]
pub trait Queue: Send + Sync {
    async fn pop(&self, from: &str, max: &usize) -> Result<Vec<u32>, BoxError>;
    async fn depth(&self) -> usize;
    /// A default body: the mock replaces it, as for traits without async-trait.
    async fn is_idle(&self) -> bool {
        self.depth().await == 0
    }
}

/// `?Send` futures, mock first.
#[async_testkit::mock]
#[async_trait::async_trait(?Send)]
pub trait Local {
    async fn read(&self, n: u8) -> u8;
}

/// Code under test written against the traits, as trait objects.
async fn copy(store: &dyn Store, queue: &dyn Queue) -> Result<usize, BoxError> {
    let items = queue.pop("jobs", &2).await?;
    for i in &items {
        let key = format!("item-{i}");
        if store.get(&key).await.is_none() {
            store.put(key, vec![*i as u8]).await?;
        }
    }
    store.ping().await;
    Ok(items.len())
}

#[async_testkit::test]
async fn mock_above_async_trait_works_and_records_borrowed_args_owned() {
    let store = MockStore::new();
    store.get.returns_seq([Some("old".to_string()), None]);
    store.put.returns_ok(());
    store.ping.returns(()).delay(Duration::from_millis(5));
    let queue = MockQueue::new();
    queue.pop.returns_once(Ok(vec![1, 2]));
    assert_eq!(copy(&store, &queue).await.unwrap(), 2);
    store.get.assert_called_with("item-1".to_string());
    store.put.assert_called_with(("item-2".to_string(), vec![2]));
    store.put.assert_called_times(1);
    queue.pop.assert_called_with(("jobs".to_string(), 2));
    assert_eq!(async_testkit::time::elapsed(), Duration::from_millis(5));
}

#[async_testkit::test]
async fn mock_below_async_trait_works_with_box_error() {
    let store = MockStore::new();
    store.get.returns(None);
    store.put.fails_with(|| "disk full".into());
    let queue = MockQueue::new();
    queue.pop.returns_ok(vec![7]);
    queue.depth.returns(0);
    queue.is_idle.returns(false);
    let err = copy(&store, &queue).await.unwrap_err();
    assert_eq!(err.to_string(), "disk full");
    assert_eq!(queue.depth().await, 0);
    assert!(!queue.is_idle().await);
    store.ping.assert_not_called();
}

#[async_testkit::test]
async fn the_mocks_go_into_boxes_and_arcs_of_the_trait() {
    let queue: std::sync::Arc<dyn Queue> = {
        let q = MockQueue::new();
        q.depth.returns(3);
        std::sync::Arc::new(q)
    };
    let q = queue.clone();
    let t = tokio::spawn(async move { q.depth().await });
    assert_eq!(t.await.unwrap(), 3);
}

#[async_testkit::test]
async fn non_send_async_trait_is_mocked() {
    let local = MockLocal::new();
    local.read.returns_with(|n| async move { n + 1 });
    let boxed: Box<dyn Local> = Box::new(local.clone());
    assert_eq!(boxed.read(4).await, 5);
    local.read.assert_called_times(1);
}

#[test]
fn a_failing_call_under_async_trait_names_the_method_and_the_call_site() {
    let f = async_testkit::Builder::new()
        .try_run(|| async {
            MockQueue::new().depth().await;
        })
        .unwrap_err();
    let line = line!() - 3;
    assert_eq!(
        f.panic_messages()[0],
        format!(
            "mock `Queue::depth` has no behaviour for call #1 with arguments () (called at {}:{line}:30).\n\
             Give it one with returns(..), returns_seq(..), returns_once(..), returns_with(..), fails(..), \
             panics(..) or hangs().",
            file!()
        )
    );
}
