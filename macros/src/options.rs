//! Parsing of the attribute arguments, `#[async_testkit::test(name = value, ...)]`,
//! into a chain of `Builder` method calls.

use proc_macro2::{Literal, Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Error, Expr, Ident, Lit, Token};

use crate::duration::{DurationError, parse_duration_nanos};

/// Every option the attribute accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opt {
    Seed,
    Strategy,
    Clock,
    Timeout,
    VirtualTimeout,
    Leaks,
    SlowPoll,
    SlowPollPolicy,
    Io,
    Explore,
    ExploreFor,
    // tokio's own options, accepted where the kit can honour them (a migration from
    // `#[tokio::test]` is a rename) and refused with the reason where it cannot.
    StartPaused,
    Flavor,
    WorkerThreads,
    Crate,
}

/// All options, in the order they are listed in error messages.
const ALL: [Opt; 15] = [
    Opt::Seed,
    Opt::Strategy,
    Opt::Clock,
    Opt::Timeout,
    Opt::VirtualTimeout,
    Opt::Leaks,
    Opt::SlowPoll,
    Opt::SlowPollPolicy,
    Opt::Io,
    Opt::Explore,
    Opt::ExploreFor,
    Opt::StartPaused,
    Opt::Flavor,
    Opt::WorkerThreads,
    Opt::Crate,
];

/// The kind of literal an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Str,
}

impl Opt {
    fn from_name(name: &str) -> Option<Opt> {
        ALL.into_iter().find(|opt| opt.name() == name)
    }

    fn name(self) -> &'static str {
        match self {
            Opt::Seed => "seed",
            Opt::Strategy => "strategy",
            Opt::Clock => "clock",
            Opt::Timeout => "timeout",
            Opt::VirtualTimeout => "virtual_timeout",
            Opt::Leaks => "leaks",
            Opt::SlowPoll => "slow_poll",
            Opt::SlowPollPolicy => "slow_poll_policy",
            Opt::Io => "io",
            Opt::Explore => "explore",
            Opt::ExploreFor => "explore_for",
            Opt::StartPaused => "start_paused",
            Opt::Flavor => "flavor",
            Opt::WorkerThreads => "worker_threads",
            Opt::Crate => "crate",
        }
    }

    /// A complete, valid `name = value` example for messages.
    fn example(self) -> &'static str {
        match self {
            Opt::Seed => "seed = 7",
            Opt::Strategy => "strategy = \"random\"",
            Opt::Clock => "clock = \"manual\"",
            Opt::Timeout => "timeout = \"30s\"",
            Opt::VirtualTimeout => "virtual_timeout = \"1h\"",
            Opt::Leaks => "leaks = \"warn\"",
            Opt::SlowPoll => "slow_poll = \"100ms\"",
            Opt::SlowPollPolicy => "slow_poll_policy = \"warn\"",
            Opt::Io => "io = true",
            Opt::Explore => "explore = 1000",
            Opt::ExploreFor => "explore_for = \"10s\"",
            Opt::StartPaused => "start_paused = true",
            Opt::Flavor => "flavor = \"current_thread\"",
            Opt::WorkerThreads => "worker_threads = 2",
            Opt::Crate => "crate = \"async_testkit\"",
        }
    }

    fn kind(self) -> Kind {
        match self {
            Opt::Seed | Opt::Explore | Opt::WorkerThreads => Kind::Int,
            Opt::Io | Opt::StartPaused => Kind::Bool,
            _ => Kind::Str,
        }
    }

    /// Says what the option takes, for the wrong-literal-kind message.
    fn wrong_kind_message(self) -> String {
        let name = self.name();
        let example = self.example();
        match self {
            Opt::Seed | Opt::Explore | Opt::WorkerThreads => {
                format!("`{name}` takes an integer, like `{example}`")
            }
            Opt::Io | Opt::StartPaused => format!("`{name}` takes `true` or `false`, like `{example}`"),
            Opt::Timeout | Opt::VirtualTimeout | Opt::SlowPoll | Opt::ExploreFor => {
                format!("`{name}` takes a duration string, like `{example}`")
            }
            Opt::Strategy | Opt::Clock | Opt::Leaks | Opt::SlowPollPolicy | Opt::Flavor => {
                format!("`{name}` takes a string, like `{example}`")
            }
            Opt::Crate => {
                format!("`{name}` takes the path of the async-testkit crate as a string, like `{example}`")
            }
        }
    }
}

/// One `name = value` pair as written, before its value is checked.
struct RawOption {
    name: Ident,
    value: Expr,
}

/// The message for anything that does not start like an option.
pub(crate) const EXPECTED_OPTION: &str = "expected an option like `seed = 7`: options are written \
     `name = value` and separated by commas, as in `#[async_testkit::test(seed = 7, timeout = \"30s\")]`";

/// The message for `#[async_testkit::test = ...]`.
pub(crate) const BARE_FORM: &str = "options go in parentheses, not after `=`: write \
     `#[async_testkit::test]` or `#[async_testkit::test(seed = 7, timeout = \"30s\")]`";

/// What the attribute's options stand for.
pub(crate) struct Options {
    /// The builder method calls, in source order, ready to be appended to
    /// `Builder::new()`; they name the kit's items through `__async_testkit`.
    pub(crate) calls: TokenStream,
    /// The path the kit is reached by (`crate = "..."`), `::async_testkit` by default.
    pub(crate) krate: TokenStream,
}

/// The kit's start: in tokio's runtime, `flavor = "multi_thread"` and `worker_threads`
/// cannot be honoured.
const ONE_THREAD: &str = "the kit runs each test on one thread, on a current-thread tokio runtime under \
     its own scheduler (that is what makes every run replayable), so it cannot honour";

/// What to do instead of a multi-threaded runtime.
const ONE_THREAD_CURE: &str = "Remove the option: races between tasks are found by exploring their orders \
     (`explore = 1000`); or keep this test on `#[tokio::test]` if it needs threads running in parallel.";

/// Parses the attribute arguments and returns the builder method calls they
/// stand for, in source order, ready to be appended to `Builder::new()`.
///
/// Syntax errors stop at the first problem; problems with individual options
/// (unknown names, duplicates, bad values) are all collected and reported
/// together.
pub(crate) fn parse_options(args: TokenStream) -> syn::Result<Options> {
    let raw = parse_raw.parse2(args)?;
    let mut krate = quote!(::async_testkit);

    let mut calls = TokenStream::new();
    let mut errors: Option<Error> = None;
    let mut push_error = |err: Error| match &mut errors {
        Some(all) => all.combine(err),
        None => errors = Some(err),
    };
    let mut seen: Vec<Opt> = Vec::new();

    for RawOption { name, value } in raw {
        let text = name.unraw().to_string();
        let Some(opt) = Opt::from_name(&text) else {
            push_error(unknown_option(&name));
            continue;
        };
        if seen.contains(&opt) {
            push_error(Error::new(name.span(), format!("option `{text}` is given twice")));
            continue;
        }
        seen.push(opt);
        if opt == Opt::Crate {
            match crate_path(&value) {
                Ok(path) => krate = path,
                Err(err) => push_error(err),
            }
            continue;
        }
        match builder_call(opt, &name, &value) {
            Ok(call) => calls.extend(call),
            Err(err) => push_error(err),
        }
    }

    match errors {
        Some(err) => Err(err),
        None => Ok(Options { calls, krate }),
    }
}

/// The value of `crate = "path"`: a path, as tokio's option of that name takes.
fn crate_path(value: &Expr) -> syn::Result<TokenStream> {
    let wrong = || Error::new_spanned(value, Opt::Crate.wrong_kind_message());
    let Some(Lit::Str(text)) = literal_of(value) else {
        return Err(wrong());
    };
    let path: syn::Path = text.parse().map_err(|_| wrong())?;
    Ok(quote!(#path))
}

/// The syntax pass: a comma separated list of `name = expression`.
fn parse_raw(input: ParseStream) -> syn::Result<Vec<RawOption>> {
    let mut options = Vec::new();
    if input.peek(Token![=]) {
        // `#[async_testkit::test = ...]` handed over with its `=`. (Current
        // rustc rejects that form itself, with "key-value macro attributes
        // are not supported", and passes only the value, which then gets
        // the `EXPECTED_OPTION` message below.)
        return Err(input.error(BARE_FORM));
    }
    while !input.is_empty() {
        if !input.peek(Ident::peek_any) {
            return Err(input.error(EXPECTED_OPTION));
        }
        let name = input.call(Ident::parse_any)?;
        let opt = Opt::from_name(&name.unraw().to_string());

        let example = || match opt {
            Some(opt) => opt.example().to_string(),
            None => format!("{name} = <value>"),
        };
        if input.is_empty() || input.peek(Token![,]) {
            // `#[async_testkit::test(seed)]`: an unknown name is the bigger
            // problem, so report that first.
            if opt.is_none() {
                return Err(unknown_option(&name));
            }
            return Err(Error::new(
                name.span(),
                format!("option `{name}` needs a value: write `{}`", example()),
            ));
        }
        if !input.peek(Token![=]) || input.peek(Token![==]) || input.peek(Token![=>]) {
            if opt.is_none() {
                return Err(unknown_option(&name));
            }
            let message = format!(
                "expected `=` after `{name}`: options are written `name = value`, like `{}`",
                example()
            );
            if input.peek(Token![==]) {
                let eq_eq: Token![==] = input.parse()?;
                return Err(Error::new_spanned(eq_eq, message));
            }
            if input.peek(Token![=>]) {
                let arrow: Token![=>] = input.parse()?;
                return Err(Error::new_spanned(arrow, message));
            }
            // Point at the whole next token, such as all of `(7)`.
            let span = input
                .cursor()
                .token_tree()
                .map_or_else(|| input.span(), |(token, _)| token.span());
            return Err(Error::new(span, message));
        }
        let eq: Token![=] = input.parse()?;
        if input.is_empty() || input.peek(Token![,]) {
            return Err(Error::new(
                eq.span,
                format!("option `{name}` needs a value after `=`, like `{}`", example()),
            ));
        }
        let value: Expr = input.parse().map_err(|err| {
            Error::new(
                err.span(),
                format!("expected a value for `{name}`, like `{}`", example()),
            )
        })?;
        options.push(RawOption { name, value });

        if input.is_empty() {
            break;
        }
        if !input.peek(Token![,]) {
            return Err(
                input.error("expected `,` here: separate options with commas, like `seed = 7, io = true`")
            );
        }
        input.parse::<Token![,]>()?;
    }
    Ok(options)
}

/// The error for a name that is not an option, with a suggestion when the
/// name looks like a misspelling of a real one.
fn unknown_option(name: &Ident) -> Error {
    let text = name.unraw().to_string();
    let list = ALL.map(Opt::name).join(", ");
    let mut message = format!("unknown option `{text}`; expected one of: {list}");
    if let Some(suggestion) = suggest(&text) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    }
    Error::new(name.span(), message)
}

/// The closest option name within edit distance 2 of `text`, if any.
///
/// Adjacent transpositions count as one edit. A name is not suggested when
/// the distance is as large as the typed name itself (so `x` does not
/// suggest `io`).
fn suggest(text: &str) -> Option<&'static str> {
    let typed = text.chars().count();
    ALL.into_iter()
        .map(|opt| (edit_distance(text, opt.name()), opt.name()))
        .filter(|&(distance, _)| distance <= 2 && distance < typed)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, name)| name)
}

/// Optimal string alignment distance: insertions, deletions, substitutions
/// and swaps of two adjacent characters each cost one.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j] is the distance between a[..i] and b[..j].
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// Looks through invisible groups (from `macro_rules!` fragments) to the
/// literal the value is made of, if it is one.
fn literal_of(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(lit) if lit.attrs.is_empty() => Some(&lit.lit),
        Expr::Group(group) if group.attrs.is_empty() => literal_of(&group.expr),
        _ => None,
    }
}

/// Whether the value is written `-<integer>`.
fn is_negative_integer(expr: &Expr) -> bool {
    match expr {
        Expr::Unary(unary) => {
            matches!(unary.op, syn::UnOp::Neg(_)) && matches!(literal_of(&unary.expr), Some(Lit::Int(_)))
        }
        Expr::Group(group) => is_negative_integer(&group.expr),
        _ => false,
    }
}

/// Checks one option's value and produces its builder call.
///
/// The method name keeps the span of the option name, so that a builder
/// method the runtime lacks is reported on the option. Everything else is
/// generated with the call-site span, so lints on the generated values (such
/// as clippy's preferences about `Duration` constructors) do not point at the
/// user's literal.
fn builder_call(opt: Opt, name: &Ident, value: &Expr) -> syn::Result<TokenStream> {
    let wrong_kind = || Error::new_spanned(value, opt.wrong_kind_message());
    if opt.kind() == Kind::Int && is_negative_integer(value) {
        return Err(Error::new_spanned(
            value,
            format!("`{}` cannot be negative, like `{}`", opt.name(), opt.example()),
        ));
    }
    let lit = literal_of(value).ok_or_else(wrong_kind)?;
    let span = lit.span();
    if matches!(opt, Opt::StartPaused | Opt::Flavor | Opt::WorkerThreads) {
        return match (opt.kind(), lit) {
            (Kind::Int, Lit::Int(_)) | (Kind::Bool, Lit::Bool(_)) | (Kind::Str, Lit::Str(_)) => {
                tokio_option(opt, lit, span)
            }
            _ => Err(wrong_kind()),
        };
    }
    let method = Ident::new(opt.name(), name.span());

    let arg = match (opt.kind(), lit) {
        (Kind::Int, Lit::Int(int)) => {
            match opt {
                Opt::Seed => {
                    check_suffix(int, "u64", opt)?;
                    let seed: u64 = int.base10_parse().map_err(|_| {
                        Error::new(span, format!("`seed` must fit in a u64 (at most {})", u64::MAX))
                    })?;
                    let lit = Literal::u64_suffixed(seed);
                    quote!(#lit)
                }
                _ => {
                    // explore
                    check_suffix(int, "u32", opt)?;
                    let schedules: u32 = int.base10_parse().map_err(|_| {
                        Error::new(
                            span,
                            format!("`explore` must fit in a u32 (at most {})", u32::MAX),
                        )
                    })?;
                    if schedules == 0 {
                        return Err(Error::new(span, "explore takes at least 1 schedule"));
                    }
                    let lit = Literal::u32_suffixed(schedules);
                    quote!(#lit)
                }
            }
        }
        (Kind::Bool, Lit::Bool(flag)) => {
            let flag = flag.value;
            quote!(#flag)
        }
        (Kind::Str, Lit::Str(text)) => {
            let text = text.value();
            match opt {
                Opt::Strategy => strategy(&text, span)?,
                Opt::Clock => clock(&text, span)?,
                Opt::Leaks | Opt::SlowPollPolicy => policy(opt, &text, span)?,
                _ => {
                    // timeout, virtual_timeout, slow_poll, explore_for
                    let nanos = duration(&text, span)?;
                    if nanos == 0 {
                        return Err(Error::new(
                            span,
                            format!("{} must be greater than zero", opt.name()),
                        ));
                    }
                    duration_tokens(nanos)
                }
            }
        }
        _ => return Err(wrong_kind()),
    };
    Ok(quote!(.#method(#arg)))
}

/// tokio's runtime options: what the kit always does is accepted (and needs no call);
/// the rest is refused with the reason and the cure.
fn tokio_option(opt: Opt, lit: &Lit, span: Span) -> syn::Result<TokenStream> {
    match (opt, lit) {
        (Opt::StartPaused, Lit::Bool(b)) if b.value => Ok(TokenStream::new()),
        (Opt::StartPaused, _) => Err(Error::new(
            span,
            "`start_paused = false` asks for tokio's clock to run in real time, but the kit's clock is \
             always virtual: time moves only when every task waits (or by `async_testkit::time::advance`). \
             Remove the option (`clock = \"manual\"` stops time until the test advances it), or keep this \
             test on `#[tokio::test]` if it must see real time pass.",
        )),
        (Opt::Flavor, Lit::Str(s)) if s.value() == "current_thread" => Ok(TokenStream::new()),
        (Opt::Flavor, Lit::Str(s)) if matches!(s.value().as_str(), "multi_thread" | "local") => {
            Err(Error::new(
                span,
                format!("{ONE_THREAD} `flavor = \"{}\"`. {ONE_THREAD_CURE}", s.value()),
            ))
        }
        (Opt::Flavor, _) => Err(Error::new(
            span,
            "unknown flavor: the kit has one, `flavor = \"current_thread\"` (the option may be left out)",
        )),
        _ => Err(Error::new(
            span,
            format!("{ONE_THREAD} `worker_threads`. {ONE_THREAD_CURE}"),
        )),
    }
}

/// Integer options accept no suffix or the suffix of their own type.
fn check_suffix(int: &syn::LitInt, expected: &str, opt: Opt) -> syn::Result<()> {
    let suffix = int.suffix();
    if suffix.is_empty() || suffix == expected {
        Ok(())
    } else {
        Err(Error::new(
            int.span(),
            format!(
                "`{}` is a {expected}, not a {suffix}: drop the suffix, like `{}`",
                opt.name(),
                opt.example()
            ),
        ))
    }
}

/// The strategies, as `async_testkit::Strategy::from_name` reads them.
pub(crate) const STRATEGIES: &str = "\"fifo\", \"random\", \"urw\", \"portfolio\", \"pct\" (depth 3; or \"pct2\", \
     \"pct(2)\"), \"pcty\" (depth 1; or \"pcty2\", \"pcty(2)\"), or \"dfs\" (2 preemptions; or \"dfs3\", \"dfs(3)\")";

fn strategy(text: &str, span: Span) -> syn::Result<TokenStream> {
    let number = |rest: &str| -> Option<u32> {
        let rest = rest
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(rest);
        rest.parse().ok()
    };
    let unknown = || Error::new(span, format!("unknown strategy {text:?}; expected {STRATEGIES}"));
    match text {
        "fifo" => Ok(quote!(__async_testkit::Strategy::Fifo)),
        "random" => Ok(quote!(__async_testkit::Strategy::Random)),
        "urw" => Ok(quote!(__async_testkit::Strategy::Urw)),
        "portfolio" => Ok(quote!(__async_testkit::Strategy::Portfolio)),
        "pct" => Ok(quote!(__async_testkit::Strategy::Pct { depth: 3u32 })),
        "pcty" => Ok(quote!(__async_testkit::Strategy::PctYield { depth: 1u32 })),
        "dfs" => Ok(quote!(__async_testkit::Strategy::Dfs {
            max_preemptions: 2u32
        })),
        _ => {
            let depth = |rest: &str| -> syn::Result<Literal> {
                let depth = number(rest).ok_or_else(unknown)?;
                if !(1..=16).contains(&depth) {
                    return Err(Error::new(
                        span,
                        format!("PCT depth must be 1 to 16, not {depth}; most bugs need 1 to 3"),
                    ));
                }
                Ok(Literal::u32_suffixed(depth))
            };
            if let Some(rest) = text.strip_prefix("pcty") {
                let depth = depth(rest)?;
                Ok(quote!(__async_testkit::Strategy::PctYield { depth: #depth }))
            } else if let Some(rest) = text.strip_prefix("pct") {
                let depth = depth(rest)?;
                Ok(quote!(__async_testkit::Strategy::Pct { depth: #depth }))
            } else if let Some(rest) = text.strip_prefix("dfs") {
                let bound = Literal::u32_suffixed(number(rest).ok_or_else(unknown)?);
                Ok(quote!(__async_testkit::Strategy::Dfs { max_preemptions: #bound }))
            } else {
                Err(unknown())
            }
        }
    }
}

fn clock(text: &str, span: Span) -> syn::Result<TokenStream> {
    match text {
        "auto" => return Ok(quote!(__async_testkit::Clock::Auto)),
        "manual" => return Ok(quote!(__async_testkit::Clock::Manual)),
        "autojump" => {
            return Ok(quote!(__async_testkit::Clock::AutoJump(
                ::core::time::Duration::from_millis(10)
            )));
        }
        _ => {}
    }
    let Some(step) = text
        .strip_prefix("autojump(")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return Err(Error::new(
            span,
            format!(
                "unknown clock {text:?}; expected \"auto\", \"manual\", \"autojump\" or \
                 \"autojump(<duration>)\", like \"autojump(50ms)\""
            ),
        ));
    };
    let nanos = duration(step, span)?;
    if nanos == 0 {
        return Err(Error::new(
            span,
            "the autojump step must be greater than zero, like \"autojump(10ms)\"",
        ));
    }
    let step = duration_tokens(nanos);
    Ok(quote!(__async_testkit::Clock::AutoJump(#step)))
}

fn policy(opt: Opt, text: &str, span: Span) -> syn::Result<TokenStream> {
    match text {
        "fail" => Ok(quote!(__async_testkit::Policy::Fail)),
        "warn" => Ok(quote!(__async_testkit::Policy::Warn)),
        "ignore" => Ok(quote!(__async_testkit::Policy::Ignore)),
        _ => Err(Error::new(
            span,
            format!(
                "unknown policy {text:?} for `{}`; expected \"fail\", \"warn\" or \"ignore\"",
                opt.name()
            ),
        )),
    }
}

/// Parses a duration string, turning failures into messages spanned on the
/// literal.
fn duration(text: &str, span: Span) -> syn::Result<u64> {
    parse_duration_nanos(text).map_err(|err| {
        let message = match err {
            DurationError::Invalid => format!(
                "invalid duration {text:?}: expected an integer followed by a unit \
                 (ns, us, ms, s, m, h, d), like \"30s\" or \"1h30m\""
            ),
            DurationError::Overflow => format!(
                "duration {text:?} is too long: it must fit in a u64 number of \
                 nanoseconds (at most 213503d)"
            ),
        };
        Error::new(span, message)
    })
}

fn duration_tokens(nanos: u64) -> TokenStream {
    let lit = Literal::u64_suffixed(nanos);
    quote!(::core::time::Duration::from_nanos(#lit))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// async-testkit's strategy names (`schedule::STRATEGY_NAMES` in the main crate): `name`,
    /// or `name:default:min-max` for a name that takes a number (`max` left out: any u32).
    /// This crate cannot depend on that one, so it keeps this copy; a test there fails
    /// unless this string is in this file exactly as its list writes it, and the test below
    /// fails unless `strategy` reads exactly these names. So `#[async_testkit::test(strategy
    /// = "..")]` and `Strategy::from_name` read the same names.
    const STRATEGY_NAMES: &str = "fifo random urw portfolio pct:3:1-16 pcty:1:1-16 dfs:2:0-";

    #[test]
    fn the_parser_reads_exactly_async_testkits_strategy_names() {
        let read = |text: String| strategy(&text, Span::call_site()).ok().map(|t| t.to_string());
        let names: Vec<&str> = STRATEGY_NAMES
            .split(' ')
            .map(|n| n.split(':').next().unwrap())
            .collect();
        for entry in STRATEGY_NAMES.split(' ') {
            let fields: Vec<&str> = entry.split(':').collect();
            let name = fields[0];
            let named = read(name.into()).unwrap_or_else(|| panic!("{name:?} is not read"));
            assert!(
                STRATEGIES.contains(&format!("\"{name}\"")),
                "{STRATEGIES} leaves out {name:?}"
            );
            for junk in ["x", "()", "(", "(1", "1)", "-1", "1x"] {
                assert_eq!(read(format!("{name}{junk}")), None, "{name}{junk}");
            }
            assert_eq!(read(name.to_uppercase()), None);
            let [_, default, range] = fields[..] else {
                assert_eq!(read(format!("{name}1")), None, "{name} takes no number");
                continue;
            };
            assert_eq!(read(format!("{name}{default}")), Some(named));
            let (min, max) = range.split_once('-').unwrap();
            let (min, max): (u64, u64) = (min.parse().unwrap(), max.parse().unwrap_or(u32::MAX.into()));
            for k in [min, max] {
                assert!(read(format!("{name}{k}")).is_some(), "{name}{k}");
                assert_eq!(read(format!("{name}({k})")), read(format!("{name}{k}")));
            }
            for k in min.checked_sub(1).into_iter().chain([max + 1]) {
                assert_eq!(read(format!("{name}{k}")), None, "{name}{k}");
                assert_eq!(read(format!("{name}({k})")), None, "{name}({k})");
            }
        }
        // The error message names no other strategy (a quoted name may carry a number).
        for quoted in STRATEGIES.split('"').skip(1).step_by(2) {
            let base = quoted.trim_end_matches(|c: char| c.is_ascii_digit() || c == '(' || c == ')');
            assert!(names.contains(&base), "{STRATEGIES} names {quoted:?}");
        }
    }
}
