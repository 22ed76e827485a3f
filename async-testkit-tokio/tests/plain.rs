//! Without the `explore` feature the crate is tokio itself: the same types, nothing in
//! between. CI runs this file with `cargo test -p async-testkit-tokio --features full`.
#![cfg(not(feature = "explore"))]

use std::any::TypeId;

// Compiles only if the two paths name one type.
fn same<T>(x: T) -> T {
    x
}

#[test]
fn the_task_types_are_tokios_own() {
    assert_eq!(
        TypeId::of::<async_testkit_tokio::task::JoinHandle<()>>(),
        TypeId::of::<async_testkit_tokio::__tokio::task::JoinHandle<()>>()
    );
    assert_eq!(
        TypeId::of::<async_testkit_tokio::task::JoinSet<u8>>(),
        TypeId::of::<async_testkit_tokio::__tokio::task::JoinSet<u8>>()
    );
    assert_eq!(
        TypeId::of::<async_testkit_tokio::task::JoinError>(),
        TypeId::of::<async_testkit_tokio::__tokio::task::JoinError>()
    );
    let rt = async_testkit_tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let h: async_testkit_tokio::__tokio::task::JoinHandle<u8> =
        rt.block_on(async { same(async_testkit_tokio::spawn(async { 1 })) });
    assert_eq!(rt.block_on(h).unwrap(), 1);
}
