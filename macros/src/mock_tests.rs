//! Unit tests of `#[async_testkit::mock]`: the expansion, and the exact message and
//! location of every error.

use proc_macro2::TokenStream;

use crate::mock::{NOT_A_TRAIT, expand};
use crate::tests::{spans, tokens};

/// Tokens printed one space apart, whatever their spacing.
fn flat(stream: TokenStream) -> String {
    stream
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn expand_ok(item: &str) -> String {
    match expand(TokenStream::new(), tokens(item)) {
        Ok(out) => flat(out),
        Err(err) => panic!("expected `{item}` to expand, got: {err}"),
    }
}

/// Each error as (message, source text its span covers).
fn errors(args: &str, item: &str) -> Vec<(String, String)> {
    spans(expand(tokens(args), tokens(item)), &format!("`{item}`"))
}

fn assert_error(item: &str, message: &str, covers: &str) {
    let all = errors("", item);
    assert_eq!(all.len(), 1, "expected one error, got {all:?}");
    assert_eq!(all[0].0, message, "message for `{item}`");
    assert_eq!(all[0].1, covers, "span for `{item}`");
}

fn method_error(method: &str, why: &str) -> String {
    format!("#[async_testkit::mock] cannot mock `Repo::{method}`: {why}")
}

const NOT_ASYNC: &str = "only async methods are supported: write `async fn`, or return `impl Future<Output = T>`, \
                         `Pin<Box<dyn Future<Output = T>>>` or `BoxFuture<'_, T>`";

#[test]
fn generates_one_async_mock_per_method() {
    let out = expand_ok(
        "trait Repo {
            async fn get(&self, id: &str) -> Option<u32>;
            fn put(&self, id: String, n: u32) -> impl Future<Output = Result<(), E>> + Send;
            fn all(&self) -> Pin<Box<dyn Future<Output = Vec<u32>> + Send + '_>>;
            fn stream<'a>(&'a self, ids: &'a [u8]) -> BoxFuture<'a, bool>;
            async fn ping(&self);
        }",
    );
    let kit = ":: async_testkit :: mock :: AsyncMock";
    for field in [
        format!("pub get : {kit} < < str as :: std :: borrow :: ToOwned > :: Owned , Option < u32 > >"),
        format!("pub put : {kit} < (String , u32 ,) , Result < () , E > >"),
        format!("pub all : {kit} < () , Vec < u32 > >"),
        format!("pub stream : {kit} < < [u8] as :: std :: borrow :: ToOwned > :: Owned , bool >"),
        format!("pub ping : {kit} < () , () >"),
    ] {
        assert!(out.contains(&field), "missing `{field}` in {out}");
    }
    for method in [
        "fn get (& self , __arg0 : & str) -> impl :: core :: future :: Future < Output = Option < u32 > > \
         { self . get . call (:: std :: borrow :: ToOwned :: to_owned (__arg0)) }",
        "fn put (& self , __arg0 : String , __arg1 : u32) -> impl Future < Output = Result < () , E > > + Send \
         { self . put . call ((__arg0 , __arg1 ,)) }",
        "fn all (& self) -> Pin < Box < dyn Future < Output = Vec < u32 > > + Send + '_ > > \
         { :: std :: boxed :: Box :: pin (self . all . call (())) }",
        "fn stream < 'a > (& 'a self , __arg0 : & 'a [u8]) -> BoxFuture < 'a , bool > \
         { :: std :: boxed :: Box :: pin (self . stream . call (:: std :: borrow :: ToOwned :: to_owned (__arg0))) }",
        "fn ping (& self) -> impl :: core :: future :: Future < Output = () > { self . ping . call (()) }",
    ] {
        assert!(out.contains(method), "missing `{method}` in {out}");
    }
    assert!(out.contains("] struct MockRepo {"), "{out}");
    assert!(out.contains("impl Repo for MockRepo"), "{out}");
    assert!(out.contains("AsyncMock :: __for_trait (\"Repo::get\""), "{out}");
}

#[test]
fn the_mock_struct_has_the_trait_visibility() {
    assert!(
        expand_ok("pub(crate) trait Repo { async fn a(&self); }").contains("pub (crate) struct MockRepo")
    );
}

#[test]
fn rejects_what_is_not_a_trait() {
    assert_error("struct Repo;", NOT_A_TRAIT, "struct");
    assert_error("#[doc = \"x\"] fn repo() {}", NOT_A_TRAIT, "fn");
}

#[test]
fn rejects_arguments() {
    let all = errors("x = 1", "trait Repo {}");
    assert_eq!(
        all,
        [(
            "#[async_testkit::mock] takes no arguments: write `#[async_testkit::mock]`".to_string(),
            "x = 1".to_string()
        )]
    );
}

#[test]
fn rejects_generic_methods() {
    assert_error(
        "trait Repo { async fn get<T: Clone>(&self, t: T) -> u8; }",
        &method_error(
            "get",
            "generic methods are not supported (a mock records arguments of one type); take a concrete type or \
             `&dyn Trait`",
        ),
        "<T: Clone>",
    );
}

#[test]
fn rejects_impl_trait_arguments() {
    assert_error(
        "trait Repo { async fn get(&self, key: impl AsRef<str>) -> u8; }",
        &method_error(
            "get",
            "`impl Trait` arguments are generic, which is not supported; take a concrete type",
        ),
        "impl AsRef<str>",
    );
}

#[test]
fn rejects_receivers_other_than_shared_self() {
    assert_error(
        "trait Repo { async fn get(&mut self) -> u8; }",
        &method_error(
            "get",
            "`&mut self` is not supported: a mock is shared by the code under test and the test; take `&self`",
        ),
        "&mut self",
    );
    assert_error(
        "trait Repo { async fn get(self) -> u8; }",
        &method_error("get", "only `&self` methods are supported; take `&self`"),
        "self",
    );
    assert_error(
        "trait Repo { async fn make() -> u8; }",
        &method_error(
            "make",
            "methods without `self` are not supported: a mock answers through `&self`",
        ),
        "make",
    );
}

#[test]
fn rejects_methods_that_are_not_async() {
    assert_error(
        "trait Repo { fn get(&self) -> u8; }",
        &method_error("get", NOT_ASYNC),
        "u8",
    );
    assert_error(
        "trait Repo { fn get(&self); }",
        &method_error("get", NOT_ASYNC),
        "get",
    );
}

#[test]
fn rejects_borrowed_outputs_and_arguments_with_lifetimes() {
    assert_error(
        "trait Repo { async fn get(&self) -> &str; }",
        &method_error(
            "get",
            "the output borrows (it has a lifetime): a mock hands out values it owns; return an owned type",
        ),
        "&str",
    );
    assert_error(
        "trait Repo { async fn get<'a>(&self, key: Cow<'a, str>) -> u8; }",
        &method_error(
            "get",
            "an argument type with a lifetime cannot be recorded; take an owned type or a plain reference",
        ),
        "Cow<'a, str>",
    );
}

#[test]
fn rejects_generic_traits_and_associated_items() {
    assert_error(
        "trait Repo<T> { async fn get(&self) -> u8; }",
        "#[async_testkit::mock] cannot mock `Repo`: generic traits are not supported",
        "<T>",
    );
    assert_error(
        "trait Repo { type Item; }",
        "#[async_testkit::mock] cannot mock `Repo`: associated type `Item` is not supported",
        "type Item;",
    );
    assert_error(
        "trait Repo { const N: u8; }",
        "#[async_testkit::mock] cannot mock `Repo`: associated const `N` is not supported",
        "const N: u8;",
    );
}

#[test]
fn reports_every_unsupported_method_at_once() {
    let all = errors(
        "",
        "trait Repo { async fn a(&mut self); async fn b<T>(&self, t: T); fn c(&self) -> u8; }",
    );
    let methods: Vec<&str> = all
        .iter()
        .map(|(m, _)| m.split('`').nth(1).unwrap_or_default())
        .collect();
    assert_eq!(methods, ["Repo::a", "Repo::b", "Repo::c"]);
}

#[test]
fn above_async_trait_it_lets_async_trait_expand_first() {
    let out = expand_ok(
        "#[doc = \"d\"] #[async_trait::async_trait(?Send)] pub trait Repo { async fn get(&self) -> u8; }",
    );
    assert_eq!(
        out,
        "# [async_trait :: async_trait (? Send)] # [:: async_testkit :: mock] # [doc = \"d\"] \
         pub trait Repo { async fn get (& self) -> u8 ; }"
    );
}

#[test]
fn accepts_the_lifetimes_and_where_clauses_async_trait_writes() {
    let out = expand_ok(
        "trait Repo { fn get<'life0, 'life1, 'async_trait>(&'life0 self, key: &'life1 str) \
         -> Pin<Box<dyn Future<Output = u8> + Send + 'async_trait>> \
         where 'life0: 'async_trait, 'life1: 'async_trait, Self: Sync + 'async_trait; }",
    );
    assert!(
        out.contains(
            "fn get < 'life0 , 'life1 , 'async_trait > (& 'life0 self , __arg0 : & 'life1 str) \
             -> Pin < Box < dyn Future < Output = u8 > + Send + 'async_trait > > \
             where 'life0 : 'async_trait , 'life1 : 'async_trait , Self : Sync + 'async_trait \
             { :: std :: boxed :: Box :: pin (self . get . call (:: std :: borrow :: ToOwned :: to_owned (__arg0))) }"
        ),
        "{out}"
    );
}

#[test]
fn rejects_where_clauses_on_types() {
    assert_error(
        "trait Repo { async fn get<'a>(&'a self) -> u8 where Vec<&'a u8>: Clone; }",
        &method_error(
            "get",
            "`where` clauses are supported on lifetimes and `Self` only (as async-trait writes them); a bound on \
             a type cannot be mocked",
        ),
        "Vec<&'a u8>: Clone",
    );
}
