//! Unit tests of the attribute: expansions of valid input, and the exact
//! message and location of every error.
//!
//! Inputs are parsed from strings, so (with proc-macro2's `span-locations`
//! feature, enabled for tests) every error span can be mapped back to the
//! source text it covers.

use proc_macro2::{Delimiter, TokenStream, TokenTree};

use crate::expand::{EXPANDED_BY_ANOTHER, NOT_A_FN, expand, expand_or_error};
use crate::options::{BARE_FORM, EXPECTED_OPTION, edit_distance};

const OPTION_LIST: &str = "seed, strategy, clock, timeout, virtual_timeout, leaks, slow_poll, \
                           slow_poll_policy, io, explore, explore_for, start_paused, flavor, \
                           worker_threads, crate";

pub(crate) fn tokens(text: &str) -> TokenStream {
    text.parse()
        .unwrap_or_else(|err| panic!("test input {text:?} does not lex: {err}"))
}

/// Prints tokens one space apart, ignoring how they were spaced or joined
/// (`?;` and `? ;` print the same).
fn canonical(stream: TokenStream) -> String {
    fn walk(stream: TokenStream, out: &mut Vec<String>) {
        for token in stream {
            match token {
                TokenTree::Group(group) => {
                    let (open, close) = match group.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::None => ("", ""),
                    };
                    out.push(open.to_string());
                    walk(group.stream(), out);
                    out.push(close.to_string());
                }
                TokenTree::Punct(punct) => out.push(punct.as_char().to_string()),
                other => out.push(other.to_string()),
            }
        }
    }
    let mut out = Vec::new();
    walk(stream, &mut out);
    out.retain(|token| !token.is_empty());
    out.join(" ")
}

/// Lexes and prints canonically.
fn normalized(text: &str) -> String {
    canonical(tokens(text))
}

fn expand_ok(args: &str, item: &str) -> String {
    match expand(tokens(args), tokens(item)) {
        Ok(output) => canonical(output),
        Err(err) => panic!("expected `{args}` on `{item}` to expand, got: {err}"),
    }
}

/// Each error as (message, source text its span covers).
fn errors(args: &str, item: &str) -> Vec<(String, String)> {
    spans(
        expand(tokens(args), tokens(item)),
        &format!("`{args}` on `{item}`"),
    )
}

/// Each error of an expansion that must fail, as (message, source text its span covers).
pub(crate) fn spans(result: syn::Result<TokenStream>, input: &str) -> Vec<(String, String)> {
    let err = match result {
        Ok(output) => panic!("expected {input} to fail, got: {output}"),
        Err(err) => err,
    };
    err.into_iter()
        .map(|err| {
            let text = err
                .span()
                .source_text()
                .unwrap_or_else(|| panic!("error {:?} has no source location", err.to_string()));
            (err.to_string(), text)
        })
        .collect()
}

/// The single error reported, as (message, source text it covers).
fn error(args: &str, item: &str) -> (String, String) {
    let mut all = errors(args, item);
    assert_eq!(all.len(), 1, "expected exactly one error, got {all:?}");
    all.remove(0)
}

/// Asserts the only error of `#[async_testkit::test(args)] async fn t() {}`.
fn assert_option_error(args: &str, message: &str, covers: &str) {
    let (got_message, got_text) = error(args, "async fn t() {}");
    assert_eq!(got_message, message, "message for `{args}`");
    assert_eq!(got_text, covers, "span for `{args}`");
}

/// Asserts the only error of `#[async_testkit::test] <item>`.
fn assert_fn_error(item: &str, message: &str, covers: &str) {
    let (got_message, got_text) = error("", item);
    assert_eq!(got_message, message, "message for `{item}`");
    assert_eq!(got_text, covers, "span for `{item}`");
}

/// The builder calls produced for `args`, normalized.
fn builder_calls(args: &str) -> String {
    let output = expand_ok(args, "async fn t() {}");
    let start = normalized("__async_testkit :: Builder :: new ()");
    let end = normalized(", :: core :: concat !");
    let from = output.find(&start).expect("builder call in output") + start.len();
    let to = output.find(&end).expect("test name in output");
    output[from..to].trim().to_string()
}

fn nanos(n: u64) -> String {
    format!(":: core :: time :: Duration :: from_nanos ({n}u64)")
}

// ---------------------------------------------------------------------------
// Valid input
// ---------------------------------------------------------------------------

#[test]
fn plain_test_expands_to_run_test() {
    let output = expand_ok("", "async fn works() { assert!(true); }");
    let expected = normalized(
        r#"
        #[::core::prelude::v1::test]
        fn works() {
            use ::async_testkit as __async_testkit;
            fn __async_testkit_output<F: ::core::future::Future<Output = ()>>(future: F) -> F {
                future
            }
            __async_testkit::__private::run_test(
                __async_testkit::Builder::new(),
                ::core::concat!(::core::module_path!(), "::", ::core::stringify!(works)),
                move || __async_testkit_output(async move { assert!(true); })
            )
        }
        "#,
    );
    assert_eq!(output, expected);
}

#[test]
fn empty_parentheses_are_no_options() {
    assert_eq!(builder_calls(""), "");
}

#[test]
fn declared_return_type_is_the_output_of_the_async_block() {
    let output = expand_ok(
        "",
        "async fn fallible() -> Result<(), std::io::Error> { thing()?; Ok(()) }",
    );
    let expected = normalized(
        r#"
        #[::core::prelude::v1::test]
        fn fallible() {
            use ::async_testkit as __async_testkit;
            fn __async_testkit_output<F: ::core::future::Future<Output = Result<(), std::io::Error>>>(future: F) -> F {
                future
            }
            __async_testkit::__private::run_test(
                __async_testkit::Builder::new(),
                ::core::concat!(::core::module_path!(), "::", ::core::stringify!(fallible)),
                move || __async_testkit_output(async move { thing()?; Ok(()) })
            )
        }
        "#,
    );
    assert_eq!(output, expected);
}

#[test]
fn explicit_unit_return_type_is_kept() {
    let output = expand_ok("", "async fn unit() -> () {}");
    assert!(output.contains(&normalized("Future < Output = () >")), "{output}");
}

/// Finds the first identifier named `name`, looking inside groups.
fn find_ident(stream: TokenStream, name: &str) -> Option<proc_macro2::Ident> {
    stream.into_iter().find_map(|token| match token {
        TokenTree::Ident(ident) if ident == name => Some(ident),
        TokenTree::Group(group) => find_ident(group.stream(), name),
        _ => None,
    })
}

#[test]
fn run_test_call_is_located_at_the_return_type() {
    // So that rustc reports a return type the runtime does not accept on
    // that type, not on the attribute.
    let output = expand(
        tokens(""),
        tokens("async fn t() -> Result<(), String> { Ok(()) }"),
    )
    .unwrap();
    let run_test = find_ident(output, "run_test").expect("run_test call");
    assert_eq!(
        run_test.span().source_text().as_deref(),
        Some("Result<(), String>")
    );
}

#[test]
fn attributes_and_visibility_are_preserved_after_the_test_attribute() {
    let output = expand_ok(
        "seed = 1",
        r#"
        /// Documented.
        #[should_panic(expected = "boom")]
        #[ignore = "slow"]
        #[cfg_attr(miri, ignore)]
        pub(crate) async fn panics() { panic!("boom") }
        "#,
    );
    let expected = normalized(
        r#"
        #[::core::prelude::v1::test]
        /// Documented.
        #[should_panic(expected = "boom")]
        #[ignore = "slow"]
        #[cfg_attr(miri, ignore)]
        pub(crate) fn panics() {
            use ::async_testkit as __async_testkit;
            fn __async_testkit_output<F: ::core::future::Future<Output = ()>>(future: F) -> F {
                future
            }
            __async_testkit::__private::run_test(
                __async_testkit::Builder::new().seed(1u64),
                ::core::concat!(::core::module_path!(), "::", ::core::stringify!(panics)),
                move || __async_testkit_output(async move { panic!("boom") })
            )
        }
        "#,
    );
    assert_eq!(output, expected);
}

#[test]
fn every_option_becomes_a_builder_call_in_source_order() {
    let calls = builder_calls(
        r#"explore = 1000, io = true, slow_poll_policy = "warn", slow_poll = "100ms",
           leaks = "fail", virtual_timeout = "1h", timeout = "30s", clock = "manual",
           strategy = "random", seed = 7"#,
    );
    let expected = normalized(&format!(
        ".explore(1000u32)
         .io(true)
         .slow_poll_policy(__async_testkit::Policy::Warn)
         .slow_poll({})
         .leaks(__async_testkit::Policy::Fail)
         .virtual_timeout({})
         .timeout({})
         .clock(__async_testkit::Clock::Manual)
         .strategy(__async_testkit::Strategy::Random)
         .seed(7u64)",
        nanos(100_000_000),
        nanos(3_600_000_000_000),
        nanos(30_000_000_000),
    ));
    assert_eq!(calls, expected);
}

#[test]
fn trailing_comma_is_accepted() {
    assert_eq!(builder_calls("seed = 3,"), normalized(".seed(3u64)"));
}

#[test]
fn seed_values() {
    assert_eq!(builder_calls("seed = 0"), normalized(".seed(0u64)"));
    assert_eq!(builder_calls("seed = 7u64"), normalized(".seed(7u64)"));
    assert_eq!(builder_calls("seed = 1_000"), normalized(".seed(1000u64)"));
    assert_eq!(builder_calls("seed = 0xff"), normalized(".seed(255u64)"));
    assert_eq!(
        builder_calls("seed = 18446744073709551615"),
        normalized(".seed(18446744073709551615u64)")
    );
}

#[test]
fn strategy_values() {
    assert_eq!(
        builder_calls(r#"strategy = "fifo""#),
        normalized(".strategy(__async_testkit::Strategy::Fifo)")
    );
    assert_eq!(
        builder_calls(r#"strategy = "random""#),
        normalized(".strategy(__async_testkit::Strategy::Random)")
    );
}

#[test]
fn clock_values() {
    assert_eq!(
        builder_calls(r#"clock = "auto""#),
        normalized(".clock(__async_testkit::Clock::Auto)")
    );
    assert_eq!(
        builder_calls(r#"clock = "manual""#),
        normalized(".clock(__async_testkit::Clock::Manual)")
    );
    assert_eq!(
        builder_calls(r#"clock = "autojump""#),
        normalized(".clock(__async_testkit::Clock::AutoJump(::core::time::Duration::from_millis(10)))")
    );
    assert_eq!(
        builder_calls(r#"clock = "autojump(250ms)""#),
        normalized(&format!(
            ".clock(__async_testkit::Clock::AutoJump({}))",
            nanos(250_000_000)
        ))
    );
    assert_eq!(
        builder_calls(r#"clock = "autojump(1m30s)""#),
        normalized(&format!(
            ".clock(__async_testkit::Clock::AutoJump({}))",
            nanos(90_000_000_000)
        ))
    );
}

#[test]
fn policy_values() {
    for (text, variant) in [("fail", "Fail"), ("warn", "Warn"), ("ignore", "Ignore")] {
        assert_eq!(
            builder_calls(&format!("leaks = {text:?}")),
            normalized(&format!(".leaks(__async_testkit::Policy::{variant})"))
        );
        assert_eq!(
            builder_calls(&format!("slow_poll_policy = {text:?}")),
            normalized(&format!(".slow_poll_policy(__async_testkit::Policy::{variant})"))
        );
    }
}

#[test]
fn io_values() {
    assert_eq!(builder_calls("io = true"), normalized(".io(true)"));
    assert_eq!(builder_calls("io = false"), normalized(".io(false)"));
}

#[test]
fn explore_values() {
    assert_eq!(builder_calls("explore = 1"), normalized(".explore(1u32)"));
    assert_eq!(builder_calls("explore = 5u32"), normalized(".explore(5u32)"));
    assert_eq!(
        builder_calls("explore = 4294967295"),
        normalized(".explore(4294967295u32)")
    );
}

#[test]
fn duration_strings_become_nanoseconds() {
    let cases = [
        ("1h30m", 5_400_000_000_000),
        ("500us", 500_000),
        ("100ms", 100_000_000),
        ("30s", 30_000_000_000),
        ("2d", 172_800_000_000_000),
        ("1ns", 1),
        ("18446744073709551615ns", u64::MAX),
    ];
    for (text, expected) in cases {
        for option in ["timeout", "virtual_timeout", "slow_poll"] {
            assert_eq!(
                builder_calls(&format!("{option} = {text:?}")),
                normalized(&format!(".{option}({})", nanos(expected))),
                "{option} = {text:?}"
            );
        }
    }
}

#[test]
fn raw_identifier_option_names_are_accepted() {
    assert_eq!(builder_calls("r#seed = 1"), normalized(".seed(1u64)"));
}

#[test]
fn values_from_macro_rules_fragments_are_accepted() {
    // `$value:expr` arrives wrapped in an invisible group.
    let value = proc_macro2::Group::new(proc_macro2::Delimiter::None, tokens("9"));
    let mut args = tokens("seed =");
    args.extend([proc_macro2::TokenTree::Group(value)]);
    let output = canonical(expand(args, tokens("async fn t() {}")).unwrap());
    assert!(output.contains(&normalized(".seed(9u64)")), "{output}");
}

// ---------------------------------------------------------------------------
// Option errors
// ---------------------------------------------------------------------------

#[test]
fn unknown_option_with_suggestion() {
    assert_option_error(
        "sed = 7",
        &format!("unknown option `sed`; expected one of: {OPTION_LIST}; did you mean `seed`?"),
        "sed",
    );
    assert_option_error(
        r#"tiemout = "1s""#,
        &format!("unknown option `tiemout`; expected one of: {OPTION_LIST}; did you mean `timeout`?"),
        "tiemout",
    );
    assert_option_error(
        r#"slowpoll = "1s""#,
        &format!("unknown option `slowpoll`; expected one of: {OPTION_LIST}; did you mean `slow_poll`?"),
        "slowpoll",
    );
    assert_option_error(
        "explores = 3",
        &format!("unknown option `explores`; expected one of: {OPTION_LIST}; did you mean `explore`?"),
        "explores",
    );
}

#[test]
fn unknown_option_without_suggestion() {
    assert_option_error(
        r#"runtime = "multi_thread""#,
        &format!("unknown option `runtime`; expected one of: {OPTION_LIST}"),
        "runtime",
    );
    // Too short to be a misspelling of `io`.
    assert_option_error(
        "x = 1",
        &format!("unknown option `x`; expected one of: {OPTION_LIST}"),
        "x",
    );
}

#[test]
fn unknown_option_without_value_reports_the_name() {
    assert_option_error(
        "sed",
        &format!("unknown option `sed`; expected one of: {OPTION_LIST}; did you mean `seed`?"),
        "sed",
    );
}

#[test]
fn duplicate_option_points_at_the_second_occurrence() {
    let args = "seed = 1, seed = 2";
    let err = expand(tokens(args), tokens("async fn t() {}")).unwrap_err();
    assert_eq!(err.to_string(), "option `seed` is given twice");
    assert_eq!(err.span().source_text().as_deref(), Some("seed"));
    // The second `seed` starts at column 10 of the arguments.
    let args_start = tokens(args).into_iter().next().unwrap().span().start();
    let start = err.span().start();
    assert_eq!(start.line, args_start.line);
    assert_eq!(start.column - args_start.column, 10);
}

#[test]
fn wrong_literal_kinds() {
    let cases = [
        (
            r#"seed = "7""#,
            "`seed` takes an integer, like `seed = 7`",
            r#""7""#,
        ),
        ("seed = 7.0", "`seed` takes an integer, like `seed = 7`", "7.0"),
        ("seed = SEED", "`seed` takes an integer, like `seed = 7`", "SEED"),
        (
            "seed = 1 + 1",
            "`seed` takes an integer, like `seed = 7`",
            "1 + 1",
        ),
        (
            "explore = true",
            "`explore` takes an integer, like `explore = 1000`",
            "true",
        ),
        ("io = 1", "`io` takes `true` or `false`, like `io = true`", "1"),
        (
            r#"io = "true""#,
            "`io` takes `true` or `false`, like `io = true`",
            r#""true""#,
        ),
        (
            "timeout = 30",
            r#"`timeout` takes a duration string, like `timeout = "30s"`"#,
            "30",
        ),
        (
            "timeout = 30s",
            r#"`timeout` takes a duration string, like `timeout = "30s"`"#,
            "30s",
        ),
        (
            "virtual_timeout = Duration::from_secs(5)",
            r#"`virtual_timeout` takes a duration string, like `virtual_timeout = "1h"`"#,
            "Duration::from_secs(5)",
        ),
        (
            "slow_poll = 100",
            r#"`slow_poll` takes a duration string, like `slow_poll = "100ms"`"#,
            "100",
        ),
        (
            "strategy = fifo",
            r#"`strategy` takes a string, like `strategy = "random"`"#,
            "fifo",
        ),
        (
            "clock = 1",
            r#"`clock` takes a string, like `clock = "manual"`"#,
            "1",
        ),
        (
            "leaks = false",
            r#"`leaks` takes a string, like `leaks = "warn"`"#,
            "false",
        ),
        (
            "slow_poll_policy = warn",
            r#"`slow_poll_policy` takes a string, like `slow_poll_policy = "warn"`"#,
            "warn",
        ),
        (
            r#"timeout = b"30s""#,
            r#"`timeout` takes a duration string, like `timeout = "30s"`"#,
            r#"b"30s""#,
        ),
    ];
    for (args, message, covers) in cases {
        assert_option_error(args, message, covers);
    }
}

#[test]
fn integer_range_and_suffix_errors() {
    assert_option_error("seed = -1", "`seed` cannot be negative, like `seed = 7`", "-1");
    assert_option_error(
        "explore = -5",
        "`explore` cannot be negative, like `explore = 1000`",
        "-5",
    );
    assert_option_error(
        "seed = 18446744073709551616",
        "`seed` must fit in a u64 (at most 18446744073709551615)",
        "18446744073709551616",
    );
    assert_option_error(
        "explore = 4294967296",
        "`explore` must fit in a u32 (at most 4294967295)",
        "4294967296",
    );
    assert_option_error(
        "seed = 7u32",
        "`seed` is a u64, not a u32: drop the suffix, like `seed = 7`",
        "7u32",
    );
    assert_option_error(
        "explore = 7usize",
        "`explore` is a u32, not a usize: drop the suffix, like `explore = 1000`",
        "7usize",
    );
}

#[test]
fn invalid_durations() {
    let message = |text: &str| {
        format!(
            "invalid duration {text:?}: expected an integer followed by a unit \
             (ns, us, ms, s, m, h, d), like \"30s\" or \"1h30m\""
        )
    };
    assert_eq!(
        message("10 sec"),
        r#"invalid duration "10 sec": expected an integer followed by a unit (ns, us, ms, s, m, h, d), like "30s" or "1h30m""#
    );
    for text in [
        "10 sec", "", "10", "1.5s", "5min", "10S", " 30s", "30s ", "1h 30m", "-1s", "s",
    ] {
        for option in ["timeout", "virtual_timeout", "slow_poll"] {
            let args = format!("{option} = {text:?}");
            assert_option_error(&args, &message(text), &format!("{text:?}"));
        }
    }
}

#[test]
fn overflowing_durations() {
    for text in [
        "18446744073709551616ns",
        "213504d",
        "213503d1d",
        "99999999999999999999h",
    ] {
        assert_option_error(
            &format!("timeout = {text:?}"),
            &format!(
                "duration {text:?} is too long: it must fit in a u64 number of nanoseconds \
                 (at most 213503d)"
            ),
            &format!("{text:?}"),
        );
    }
}

#[test]
fn zero_values_that_make_no_sense() {
    assert_option_error("explore = 0", "explore takes at least 1 schedule", "0");
    assert_option_error("explore = 0u32", "explore takes at least 1 schedule", "0u32");
    assert_option_error(
        r#"timeout = "0s""#,
        "timeout must be greater than zero",
        r#""0s""#,
    );
    assert_option_error(
        r#"virtual_timeout = "0s""#,
        "virtual_timeout must be greater than zero",
        r#""0s""#,
    );
    assert_option_error(
        r#"virtual_timeout = "0ms0ns""#,
        "virtual_timeout must be greater than zero",
        r#""0ms0ns""#,
    );
    assert_option_error(
        r#"slow_poll = "0us""#,
        "slow_poll must be greater than zero",
        r#""0us""#,
    );
    assert_option_error(
        r#"clock = "autojump(0s)""#,
        r#"the autojump step must be greater than zero, like "autojump(10ms)""#,
        r#""autojump(0s)""#,
    );
}

#[test]
fn exploring_strategies() {
    let cases = [
        ("portfolio", "Portfolio"),
        ("pct", "Pct { depth: 3u32 }"),
        ("pct2", "Pct { depth: 2u32 }"),
        ("pct(2)", "Pct { depth: 2u32 }"),
        ("pcty", "PctYield { depth: 1u32 }"),
        ("pcty2", "PctYield { depth: 2u32 }"),
        ("pcty(2)", "PctYield { depth: 2u32 }"),
        ("dfs", "Dfs { max_preemptions: 2u32 }"),
        ("dfs(0)", "Dfs { max_preemptions: 0u32 }"),
    ];
    for (text, strategy) in cases {
        assert_eq!(
            builder_calls(&format!("strategy = {text:?}")),
            normalized(&format!(".strategy(__async_testkit::Strategy::{strategy})")),
            "{text}"
        );
    }
    for (text, depth) in [("pct0", 0), ("pcty17", 17)] {
        assert_option_error(
            &format!("strategy = {text:?}"),
            &format!("PCT depth must be 1 to 16, not {depth}; most bugs need 1 to 3"),
            &format!("{text:?}"),
        );
    }
}

#[test]
fn explore_for_takes_a_duration() {
    assert_eq!(
        builder_calls(r#"explore_for = "10s""#),
        normalized(".explore_for(::core::time::Duration::from_nanos(10000000000u64))")
    );
    assert_option_error(
        r#"explore_for = "0s""#,
        "explore_for must be greater than zero",
        r#""0s""#,
    );
}

#[test]
fn unknown_strategy() {
    assert_option_error(
        r#"strategy = "FIFO""#,
        r#"unknown strategy "FIFO"; expected "fifo", "random", "urw", "portfolio", "pct" (depth 3; or "pct2", "pct(2)"), "pcty" (depth 1; or "pcty2", "pcty(2)"), or "dfs" (2 preemptions; or "dfs3", "dfs(3)")"#,
        r#""FIFO""#,
    );
}

#[test]
fn unknown_clocks() {
    let message = |text: &str| {
        format!(
            "unknown clock {text:?}; expected \"auto\", \"manual\", \"autojump\" or \
             \"autojump(<duration>)\", like \"autojump(50ms)\""
        )
    };
    for text in ["paused", "", "autojump()x", "autojump(10ms", "Auto"] {
        assert_option_error(&format!("clock = {text:?}"), &message(text), &format!("{text:?}"));
    }
}

#[test]
fn bad_autojump_step_is_a_duration_error() {
    assert_option_error(
        r#"clock = "autojump(10 ms)""#,
        r#"invalid duration "10 ms": expected an integer followed by a unit (ns, us, ms, s, m, h, d), like "30s" or "1h30m""#,
        r#""autojump(10 ms)""#,
    );
    assert_option_error(
        r#"clock = "autojump()""#,
        r#"invalid duration "": expected an integer followed by a unit (ns, us, ms, s, m, h, d), like "30s" or "1h30m""#,
        r#""autojump()""#,
    );
}

#[test]
fn unknown_policies() {
    assert_option_error(
        r#"leaks = "panic""#,
        r#"unknown policy "panic" for `leaks`; expected "fail", "warn" or "ignore""#,
        r#""panic""#,
    );
    assert_option_error(
        r#"slow_poll_policy = "Warn""#,
        r#"unknown policy "Warn" for `slow_poll_policy`; expected "fail", "warn" or "ignore""#,
        r#""Warn""#,
    );
}

#[test]
fn malformed_option_syntax() {
    assert_option_error("seed", "option `seed` needs a value: write `seed = 7`", "seed");
    assert_option_error(
        "io, seed = 1",
        "option `io` needs a value: write `io = true`",
        "io",
    );
    assert_option_error(
        "seed =",
        "option `seed` needs a value after `=`, like `seed = 7`",
        "=",
    );
    assert_option_error(
        "seed = , io = true",
        "option `seed` needs a value after `=`, like `seed = 7`",
        "=",
    );
    assert_option_error(
        "seed: 7",
        "expected `=` after `seed`: options are written `name = value`, like `seed = 7`",
        ":",
    );
    assert_option_error(
        "seed(7)",
        "expected `=` after `seed`: options are written `name = value`, like `seed = 7`",
        "(7)",
    );
    assert_option_error(
        r#"clock == "manual""#,
        r#"expected `=` after `clock`: options are written `name = value`, like `clock = "manual"`"#,
        "==",
    );
    assert_option_error("7", EXPECTED_OPTION, "7");
    assert_option_error(r#""seed" = 7"#, EXPECTED_OPTION, r#""seed""#);
    assert_option_error("seed = 1,, io = true", EXPECTED_OPTION, ",");
    assert_option_error(
        "seed = 7 io = true",
        "expected `,` here: separate options with commas, like `seed = 7, io = true`",
        "io",
    );
    assert_option_error(
        "seed = 7; io = true",
        "expected `,` here: separate options with commas, like `seed = 7, io = true`",
        ";",
    );
    assert_option_error("seed = =", "expected a value for `seed`, like `seed = 7`", "=");
}

#[test]
fn bare_key_value_form() {
    assert_eq!(
        BARE_FORM,
        r#"options go in parentheses, not after `=`: write `#[async_testkit::test]` or `#[async_testkit::test(seed = 7, timeout = "30s")]`"#
    );
    assert_option_error(r#"= "seed = 7""#, BARE_FORM, "=");
}

#[test]
fn messages_of_the_syntax_errors() {
    assert_eq!(
        EXPECTED_OPTION,
        r#"expected an option like `seed = 7`: options are written `name = value` and separated by commas, as in `#[async_testkit::test(seed = 7, timeout = "30s")]`"#
    );
}

#[test]
fn all_option_errors_are_reported_together() {
    let all = errors(
        r#"sed = 1, io = 1, seed = 2, seed = 3, explore = 0"#,
        "async fn t() {}",
    );
    let messages: Vec<&str> = all.iter().map(|(message, _)| message.as_str()).collect();
    assert_eq!(
        messages,
        [
            format!("unknown option `sed`; expected one of: {OPTION_LIST}; did you mean `seed`?").as_str(),
            "`io` takes `true` or `false`, like `io = true`",
            "option `seed` is given twice",
            "explore takes at least 1 schedule",
        ]
    );
}

// ---------------------------------------------------------------------------
// Function errors
// ---------------------------------------------------------------------------

#[test]
fn non_async_fn() {
    assert_fn_error(
        "fn sync_test() {}",
        "#[async_testkit::test] needs an async fn: write `async fn sync_test()`",
        "fn",
    );
    assert_fn_error(
        "pub fn t() -> Result<(), ()> { Ok(()) }",
        "#[async_testkit::test] needs an async fn: write `async fn t()`",
        "fn",
    );
}

#[test]
fn fn_with_parameters() {
    assert_fn_error(
        "async fn t(x: u32, y: u8) {}",
        "test functions take no arguments",
        "x: u32, y: u8",
    );
    assert_fn_error(
        "async fn t(_: ()) {}",
        "test functions take no arguments",
        "_: ()",
    );
    assert_fn_error(
        "async fn t(&self) {}",
        "test functions take no arguments",
        "&self",
    );
}

#[test]
fn generic_fn() {
    assert_fn_error("async fn t<T>() {}", "test functions cannot be generic", "<T>");
    assert_fn_error(
        "async fn t<'a, const N: usize>() {}",
        "test functions cannot be generic",
        "<'a, const N: usize>",
    );
    assert_fn_error(
        "async fn t() where u8: Copy {}",
        "test functions cannot be generic",
        "where u8: Copy",
    );
    assert_fn_error(
        "async fn t<T>() where T: Copy {}",
        "test functions cannot be generic",
        "<T>",
    );
}

#[test]
fn other_signature_errors() {
    assert_fn_error(
        "const async fn t() {}",
        "test functions cannot be `const`: remove `const`",
        "const",
    );
    assert_fn_error(
        "async unsafe fn t() {}",
        "test functions cannot be `unsafe`: remove `unsafe` and use an `unsafe { ... }` block \
         inside the body instead",
        "unsafe",
    );
    assert_fn_error(
        r#"async extern "C" fn t() {}"#,
        "test functions cannot have an `extern` ABI: remove it",
        r#"extern "C""#,
    );
    assert_fn_error(
        "async fn t() -> impl std::fmt::Debug {}",
        "test functions cannot return `impl Trait`: return `()` or `Result<(), E>`",
        "impl std::fmt::Debug",
    );
}

#[test]
fn other_test_attributes_are_rejected() {
    assert_fn_error(
        "#[test] async fn t() {}",
        "remove `#[test]`: #[async_testkit::test] already makes this function a test and runs \
         it on its own runtime",
        "#[test]",
    );
    assert_fn_error(
        "#[tokio::test(flavor = \"current_thread\")] async fn t() {}",
        "remove `#[tokio::test]`: #[async_testkit::test] already makes this function a test \
         and runs it on its own runtime",
        "#[tokio::test(flavor = \"current_thread\")]",
    );
    assert_fn_error(
        "#[async_testkit::test] async fn t() {}",
        "remove `#[async_testkit::test]`: #[async_testkit::test] already makes this function a \
         test and runs it on its own runtime",
        "#[async_testkit::test]",
    );
}

#[test]
fn not_a_function() {
    assert_eq!(
        NOT_A_FN,
        "#[async_testkit::test] can only be applied to an async fn: write `async fn name() { ... }`"
    );
    assert_fn_error("struct S;", NOT_A_FN, "struct");
    assert_fn_error("#[derive(Debug)] pub struct S;", NOT_A_FN, "pub");
    assert_fn_error("mod m {}", NOT_A_FN, "mod");
}

#[test]
fn all_function_errors_are_reported_together() {
    let all = errors("", "fn t<T>(x: T) {}");
    assert_eq!(
        all,
        [
            (
                "#[async_testkit::test] needs an async fn: write `async fn t()`".to_string(),
                "fn".to_string()
            ),
            ("test functions cannot be generic".to_string(), "<T>".to_string()),
            ("test functions take no arguments".to_string(), "x: T".to_string()),
        ]
    );
}

#[test]
fn option_and_function_errors_are_reported_together() {
    let all = errors("seed = true", "fn t() {}");
    assert_eq!(
        all,
        [
            (
                "`seed` takes an integer, like `seed = 7`".to_string(),
                "true".to_string()
            ),
            (
                "#[async_testkit::test] needs an async fn: write `async fn t()`".to_string(),
                "fn".to_string()
            ),
        ]
    );
}

// ---------------------------------------------------------------------------
// What the attribute emits on error
// ---------------------------------------------------------------------------

#[test]
fn compile_error_output_carries_the_message_and_the_function() {
    let output = canonical(expand_or_error(
        tokens("sed = 7"),
        tokens("#[test] async fn t() { work().await }"),
    ));
    // The `#[test]` is reported, and left out of the function emitted next to
    // the errors.
    let expected = normalized(&format!(
        r#"
        ::core::compile_error! {{ "unknown option `sed`; expected one of: {OPTION_LIST}; did you mean `seed`?" }}
        ::core::compile_error! {{ "remove `#[test]`: #[async_testkit::test] already makes this function a test and runs it on its own runtime" }}
        #[allow(unused)]
        async fn t() {{ work().await }}
        "#
    ));
    assert_eq!(output, expected);
}

#[test]
fn compile_error_is_spanned_on_the_offending_token() {
    let args = tokens("seed = 1, timeout = \"10 sec\"");
    let output = expand_or_error(args, tokens("async fn t() {}"));
    // Every token of the `compile_error!` invocation carries the span of the
    // literal, which is what rustc underlines.
    let first = output.into_iter().next().expect("compile_error! tokens");
    assert_eq!(first.span().source_text().as_deref(), Some("\"10 sec\""));
}

#[test]
fn valid_input_passes_through_expand_or_error() {
    let args = "seed = 5";
    let item = "async fn t() {}";
    assert_eq!(
        canonical(expand_or_error(tokens(args), tokens(item))),
        expand_ok(args, item)
    );
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

#[test]
fn edit_distances() {
    assert_eq!(edit_distance("seed", "seed"), 0);
    assert_eq!(edit_distance("sed", "seed"), 1);
    assert_eq!(edit_distance("sede", "seed"), 1);
    assert_eq!(edit_distance("oi", "io"), 1);
    assert_eq!(edit_distance("clok", "clock"), 1);
    assert_eq!(edit_distance("timeot", "timeout"), 1);
    assert_eq!(edit_distance("", "io"), 2);
    assert_eq!(edit_distance("abc", "xyz"), 3);
    assert_eq!(edit_distance("leak", "leaks"), 1);
    assert_eq!(edit_distance("strat", "strategy"), 3);
}

#[test]
fn a_test_attribute_above_that_already_ran_is_named_not_the_code_it_generated() {
    // What #[tokio::test] written above leaves for this attribute: a sync fn under the
    // test attribute it generates, blocking on its runtime.
    let tokio_test = "#[::core::prelude::v1::test] fn t() { let body = async {}; \
                      return tokio::runtime::Builder::new_current_thread().enable_all().build() \
                      .expect(\"Failed building the Runtime\").block_on(body); }";
    assert_fn_error(tokio_test, EXPANDED_BY_ANOTHER, "#[::core::prelude::v1::test]");
    // #[tokio::main] above generates no test attribute: the body it generates tells.
    let tokio_main = "fn t() { let body = async {}; return tokio::runtime::Builder::new_current_thread() \
                      .build().expect(\"Failed building the Runtime\").block_on(body); }";
    let (message, _) = error("", tokio_main);
    assert_eq!(message, EXPANDED_BY_ANOTHER);
    assert!(message.starts_with(
        "an attribute written above #[async_testkit::test] (#[tokio::test], #[tokio::main]) ran first"
    ));
    // A sync fn of the person's own is still told to be async, even one that blocks on a
    // runtime.
    assert_fn_error(
        "fn t() { let rt = tokio::runtime::Runtime::new().unwrap(); rt.block_on(async {}) }",
        "#[async_testkit::test] needs an async fn: write `async fn t()`",
        "fn",
    );
    assert_fn_error(
        "fn t() {}",
        "#[async_testkit::test] needs an async fn: write `async fn t()`",
        "fn",
    );
}

/// The message that refuses a multi-threaded runtime, for `what`.
fn one_thread(what: &str) -> String {
    format!(
        "the kit runs each test on one thread, on a current-thread tokio runtime under its own scheduler \
         (that is what makes every run replayable), so it cannot honour {what}. Remove the option: races \
         between tasks are found by exploring their orders (`explore = 1000`); or keep this test on \
         `#[tokio::test]` if it needs threads running in parallel."
    )
}

#[test]
fn tokio_options_the_kit_always_honours_need_no_call() {
    assert_eq!(builder_calls("start_paused = true"), "");
    assert_eq!(builder_calls(r#"flavor = "current_thread""#), "");
    assert_eq!(
        builder_calls(r#"flavor = "current_thread", start_paused = true, seed = 3"#),
        normalized(".seed(3u64)")
    );
}

#[test]
fn tokio_options_the_kit_cannot_honour_say_why_and_what_to_do() {
    assert_option_error(
        r#"flavor = "multi_thread""#,
        &one_thread("`flavor = \"multi_thread\"`"),
        r#""multi_thread""#,
    );
    assert_option_error(
        r#"flavor = "local""#,
        &one_thread("`flavor = \"local\"`"),
        r#""local""#,
    );
    assert_option_error("worker_threads = 4", &one_thread("`worker_threads`"), "4");
    assert_option_error(
        r#"flavor = "threaded""#,
        "unknown flavor: the kit has one, `flavor = \"current_thread\"` (the option may be left out)",
        r#""threaded""#,
    );
    assert_option_error(
        "start_paused = false",
        "`start_paused = false` asks for tokio's clock to run in real time, but the kit's clock is always \
         virtual: time moves only when every task waits (or by `async_testkit::time::advance`). Remove the \
         option (`clock = \"manual\"` stops time until the test advances it), or keep this test on \
         `#[tokio::test]` if it must see real time pass.",
        "false",
    );
    assert_option_error(
        "start_paused = 1",
        "`start_paused` takes `true` or `false`, like `start_paused = true`",
        "1",
    );
    assert_option_error(
        "flavor = 1",
        "`flavor` takes a string, like `flavor = \"current_thread\"`",
        "1",
    );
    assert_option_error(
        "start_paused = true, start_paused = true",
        "option `start_paused` is given twice",
        "start_paused",
    );
}

#[test]
fn crate_option_names_the_path_of_the_kit() {
    let output = expand_ok(r#"crate = "my_kit", seed = 2"#, "async fn t() {}");
    assert!(
        output.contains(&normalized("use my_kit as __async_testkit;")),
        "{output}"
    );
    assert!(
        output.contains(&normalized("__async_testkit::Builder::new().seed(2u64)")),
        "{output}"
    );
    let output = expand_ok(r#"crate = "::deps::kit""#, "async fn t() {}");
    assert!(
        output.contains(&normalized("use ::deps::kit as __async_testkit;")),
        "{output}"
    );
    let default = expand_ok("", "async fn t() {}");
    assert!(
        default.contains(&normalized("use ::async_testkit as __async_testkit;")),
        "{default}"
    );
    let message =
        "`crate` takes the path of the async-testkit crate as a string, like `crate = \"async_testkit\"`";
    assert_option_error(r#"crate = "not a path""#, message, r#""not a path""#);
    assert_option_error("crate = my_kit", message, "my_kit");
}
