//! `#[async_testkit::mock]` on a repository trait, used by a service under test.
//!
//! Run the tests with `cargo test --example mock_trait`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A user as the repository stores it. Deliberately not `Debug`: the mock's call log
/// still works and shows the type's name.
#[derive(Clone, PartialEq)]
pub struct User {
    pub id: u64,
    pub name: String,
}

/// Storage errors.
#[derive(Clone, Debug, PartialEq)]
pub enum RepoError {
    Conflict,
    Timeout,
}

/// The dependency of the service: every shape the attribute supports.
#[async_testkit::mock]
#[allow(async_fn_in_trait)] // used only here, so no `Send` bound is needed on the futures
pub trait UserRepo {
    /// `async fn` with a borrowed argument (recorded as a `String`).
    async fn find_by_name(&self, name: &str) -> Option<User>;
    /// `impl Future` with an owned argument.
    fn insert(&self, user: User) -> impl Future<Output = Result<(), RepoError>>;
    /// A boxed future, several arguments, one borrowed slice (recorded as a `Vec`).
    fn tag(&self, id: u64, tags: &[String]) -> Pin<Box<dyn Future<Output = usize> + Send + '_>>;
    /// No arguments.
    async fn count(&self) -> u64;
}

/// The service under test: registers users, refusing duplicate names, with a deadline
/// on each repository call.
pub struct Registry<R> {
    repo: R,
}

pub const DEADLINE: Duration = Duration::from_secs(2);

impl<R: UserRepo> Registry<R> {
    pub fn new(repo: R) -> Self {
        Registry { repo }
    }

    pub async fn register(&self, name: &str, tags: &[String]) -> Result<u64, String> {
        let lookup = tokio::time::timeout(DEADLINE, self.repo.find_by_name(name));
        if lookup
            .await
            .map_err(|_| "lookup timed out".to_string())?
            .is_some()
        {
            return Err(format!("{name} is taken"));
        }
        let id = self.repo.count().await + 1;
        let user = User {
            id,
            name: name.to_string(),
        };
        match tokio::time::timeout(DEADLINE, self.repo.insert(user)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("insert failed: {e:?}")),
            Err(_) => return Err("insert timed out".to_string()),
        }
        if !tags.is_empty() {
            self.repo.tag(id, tags).await;
        }
        Ok(id)
    }
}

fn main() {
    let log = async_testkit::run(async {
        let repo = MockUserRepo::new();
        repo.find_by_name.returns(None);
        repo.count.returns(41);
        repo.insert.returns_after(Duration::from_millis(30), Ok(()));
        repo.tag.returns(1);
        let registry = Registry::new(repo.clone());
        let id = registry.register("ada", &["admin".to_string()]).await.unwrap();
        println!("registered ada as #{id}");
        repo.insert.log_table()
    });
    println!("{log}");
}

#[cfg(test)]
mod tests {
    use async_testkit::mock::Outcome;

    use super::*;

    fn ready_repo() -> MockUserRepo {
        let repo = MockUserRepo::new();
        repo.find_by_name.returns(None);
        repo.count.returns(0);
        repo.insert.returns(Ok(()));
        repo.tag.returns_with(|(_, tags)| async move { tags.len() });
        repo
    }

    #[async_testkit::test]
    async fn registers_a_new_user_and_tags_it() {
        let repo = ready_repo();
        let registry = Registry::new(repo.clone());
        let tags = ["admin".to_string(), "ops".to_string()];
        assert_eq!(registry.register("ada", &tags).await, Ok(1));

        repo.find_by_name.assert_called_with("ada".to_string());
        repo.insert.assert_called_with(User {
            id: 1,
            name: "ada".into(),
        });
        repo.tag.assert_called_with((1, tags.to_vec()));
        assert!(repo.insert.log_table().contains("<mock_trait::User (not Debug)>"));
    }

    #[async_testkit::test]
    async fn refuses_a_taken_name_without_inserting() {
        let repo = ready_repo();
        repo.find_by_name.when(|name| name == "ada").returns(Some(User {
            id: 7,
            name: "ada".into(),
        }));
        let registry = Registry::new(repo.clone());
        assert_eq!(
            registry.register("ada", &[]).await,
            Err("ada is taken".to_string())
        );
        repo.insert.assert_not_called();
        repo.count.assert_not_called();
    }

    #[async_testkit::test]
    async fn a_slow_insert_times_out_and_is_cancelled() {
        let repo = ready_repo();
        repo.insert.returns_after(Duration::from_secs(10), Ok(()));
        let registry = Registry::new(repo.clone());
        assert_eq!(
            registry.register("bob", &[]).await,
            Err("insert timed out".to_string())
        );
        let call = &repo.insert.calls()[0];
        assert_eq!(
            (call.outcome(), call.ended()),
            (Outcome::Cancelled, Some(DEADLINE))
        );
        repo.tag.assert_not_called();
    }

    #[test]
    fn an_unmet_expectation_names_the_method() {
        let failure = async_testkit::Builder::new()
            .try_run(|| async {
                let repo = ready_repo();
                repo.tag.expect_calls(1);
                Registry::new(repo).register("cy", &[]).await.unwrap();
            })
            .unwrap_err();
        assert_eq!(failure.kind(), async_testkit::FailureKind::Expectation);
        assert!(
            failure
                .headline()
                .starts_with("mock `UserRepo::tag` expected exactly 1 call, got 0"),
            "{failure}"
        );
    }
}
