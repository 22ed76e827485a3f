//! Checking the annotated function and generating the test wrapper.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Error, Item, ItemFn, ReturnType, Type};

use crate::options::{Options, parse_options};

/// Expands `#[async_testkit::test(args)] item`, or explains why it cannot.
///
/// Problems with the options and problems with the function are reported
/// together, options first.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let options = parse_options(args);
    let function = parse_test_fn(item);
    match (options, function) {
        (Ok(options), Ok(function)) => Ok(generate(&options, function)),
        (Err(mut first), Err(second)) => {
            first.combine(second);
            Err(first)
        }
        (Err(err), Ok(_)) | (Ok(_), Err(err)) => Err(err),
    }
}

/// What the attribute macro returns: the expansion, or the errors followed
/// by the function itself (so that the rest of the crate, and IDEs, still
/// see it).
pub(crate) fn expand_or_error(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args, item.clone()) {
        Ok(tokens) => tokens,
        Err(err) => {
            let mut tokens = err.to_compile_error();
            tokens.extend(fallback_item(item));
            tokens
        }
    }
}

/// The item to emit next to the errors: the function without any other
/// `#[test]`-like attribute (which would only add more errors), with
/// `unused` lints (an unused function, unused parameters) silenced so they
/// do not bury the real error.
fn fallback_item(item: TokenStream) -> TokenStream {
    match syn::parse2::<ItemFn>(item.clone()) {
        Ok(mut function) => {
            function.attrs.retain(|attr| !is_test_attribute(attr));
            quote!(#[allow(unused)] #function)
        }
        Err(_) => item,
    }
}

/// The message for an item that is not a function at all.
pub(crate) const NOT_A_FN: &str =
    "#[async_testkit::test] can only be applied to an async fn: write `async fn name() { ... }`";

/// Parses the item and checks that it is an `async fn` without parameters
/// or generics. All problems found are reported together.
fn parse_test_fn(item: TokenStream) -> syn::Result<ItemFn> {
    let first_span = first_token_after_attributes(&item);
    let function = match syn::parse2::<Item>(item) {
        Ok(Item::Fn(function)) => function,
        Ok(_) => return Err(Error::new(first_span, NOT_A_FN)),
        Err(err) => return Err(err),
    };

    // Another test attribute written above this one ran first and rewrote the function:
    // the errors below would be about code the person never wrote.
    if let Some(err) = expanded_by_another_test_attribute(&function) {
        return Err(err);
    }

    let mut errors: Vec<Error> = Vec::new();
    let sig = &function.sig;
    let name = &sig.ident;

    for attr in &function.attrs {
        if is_test_attribute(attr) {
            let path = attr.path().to_token_stream().to_string().replace(' ', "");
            errors.push(Error::new_spanned(
                attr,
                format!(
                    "remove `#[{path}]`: #[async_testkit::test] already makes this function a \
                     test and runs it on its own runtime"
                ),
            ));
        }
    }
    if let Some(constness) = &sig.constness {
        errors.push(Error::new(
            constness.span,
            "test functions cannot be `const`: remove `const`",
        ));
    }
    if sig.asyncness.is_none() {
        errors.push(Error::new(
            sig.fn_token.span,
            format!("#[async_testkit::test] needs an async fn: write `async fn {name}()`"),
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(Error::new(
            unsafety.span,
            "test functions cannot be `unsafe`: remove `unsafe` and use an `unsafe { ... }` \
             block inside the body instead",
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(Error::new_spanned(
            abi,
            "test functions cannot have an `extern` ABI: remove it",
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(Error::new_spanned(
            &sig.generics,
            "test functions cannot be generic",
        ));
    } else if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(Error::new_spanned(
            where_clause,
            "test functions cannot be generic",
        ));
    }
    if !sig.inputs.is_empty() {
        let mut err_tokens = sig.inputs.to_token_stream();
        if let Some(variadic) = &sig.variadic {
            variadic.to_tokens(&mut err_tokens);
        }
        errors.push(Error::new_spanned(err_tokens, "test functions take no arguments"));
    } else if let Some(variadic) = &sig.variadic {
        errors.push(Error::new_spanned(variadic, "test functions take no arguments"));
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        if let Type::ImplTrait(_) = peel_groups(ty) {
            errors.push(Error::new_spanned(
                ty,
                "test functions cannot return `impl Trait`: return `()` or `Result<(), E>`",
            ));
        }
    }

    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(function),
        Some(mut first) => {
            for err in errors {
                first.combine(err);
            }
            Err(first)
        }
    }
}

/// The message for a function another test attribute (`#[tokio::test]` above this one)
/// has already rewritten.
pub(crate) const EXPANDED_BY_ANOTHER: &str = "an attribute written above #[async_testkit::test] \
     (#[tokio::test], #[tokio::main]) ran first and turned this async fn into a plain function \
     blocking on a runtime of its own: remove that attribute; #[async_testkit::test] alone makes \
     the function a test and runs it on the kit's runtime";

/// When a test attribute written above this one (`#[tokio::test]`, `#[tokio::main]`, any
/// macro that expands an async fn into a sync one blocking on a runtime) has already
/// rewritten the function: the error, pointing at that attribute. Seen as the test
/// attribute such a macro generates (`#[::core::prelude::v1::test]`, a path nobody
/// writes by hand), or as a function that is no longer async and whose body builds
/// tokio's runtime the way tokio's attributes do.
pub(crate) fn expanded_by_another_test_attribute(function: &ItemFn) -> Option<Error> {
    let generated = function.attrs.iter().find(|attr| {
        let path = attr.path();
        path.leading_colon.is_some()
            && path.segments.len() == 4
            && ["core", "std"].iter().any(|k| path.segments[0].ident == k)
            && path.segments[1].ident == "prelude"
            && path.segments[3].ident == "test"
    });
    if let Some(attr) = generated {
        return Some(Error::new_spanned(attr, EXPANDED_BY_ANOTHER));
    }
    // `#[tokio::main]` generates no test attribute: its body, blocking on a runtime it
    // builds, tells (the message its `expect` gives, so a sync fn of the person's own that
    // calls `block_on` still hears that it must be async).
    fn tokio_runtime_body(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|t| match t {
            TokenTree::Literal(l) => l.to_string() == "\"Failed building the Runtime\"",
            TokenTree::Group(g) => tokio_runtime_body(g.stream()),
            _ => false,
        })
    }
    (function.sig.asyncness.is_none() && tokio_runtime_body(function.block.to_token_stream())).then(|| {
        // The span of the body: the rewriting macro's spans point at its attribute.
        Error::new(function.block.brace_token.span.open(), EXPANDED_BY_ANOTHER)
    })
}

/// Whether an attribute is `#[test]` or some other `…::test` attribute, which
/// would clash with the `#[test]` this macro adds.
fn is_test_attribute(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "test")
}

fn peel_groups(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => peel_groups(&group.elem),
        Type::Paren(paren) => peel_groups(&paren.elem),
        other => other,
    }
}

/// The span of the first token that is not part of an outer attribute, to
/// point at the keyword of an item that is not a function.
pub(crate) fn first_token_after_attributes(item: &TokenStream) -> Span {
    let mut tokens = item.clone().into_iter().peekable();
    while let Some(token) = tokens.next() {
        match &token {
            TokenTree::Punct(punct) if punct.as_char() == '#' => {
                // Skip the `[...]` of the attribute as well.
                tokens.next();
            }
            other => return other.span(),
        }
    }
    Span::call_site()
}

/// Builds the synchronous `#[test]` function that runs the async body.
fn generate(options: &Options, function: ItemFn) -> TokenStream {
    let Options { calls, krate } = options;
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    let name = &sig.ident;

    // The async block must produce the declared return type (`()` when none
    // is declared), just as the body of the `async fn` would: that is what
    // lets `?` convert errors into the declared error type, and what keeps a
    // body that only diverges (`panic!()`, `todo!()`, `loop {}`) a `()` or a
    // `Result` rather than `!` (edition 2024's fallback for the async
    // block). The helper states the output type without putting the body
    // in a `let`, so no `unreachable_code` or clippy
    // `diverging_sub_expression` warning is raised on diverging bodies.
    let (output, output_span) = match &sig.output {
        ReturnType::Default => (quote!(()), Span::call_site()),
        ReturnType::Type(_, ty) => (ty.to_token_stream(), ty.span()),
    };
    let typed = Ident::new("__async_testkit_output", Span::mixed_site());
    let builder = quote!(__async_testkit::Builder::new() #calls);
    let test_name = quote!(::core::concat!(
        ::core::module_path!(),
        "::",
        ::core::stringify!(#name)
    ));
    let closure = quote!(move || #typed(async move #block));
    // The call is located at the return type, so an error about a return
    // type the runtime does not accept (say `-> u8`) points at that type
    // rather than at the attribute.
    let run_test = quote_spanned! {output_span=>
        __async_testkit::__private::run_test(#builder, #test_name, #closure)
    };

    quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() {
            // The kit, by the path `crate = "..."` names (a renamed dependency).
            use #krate as __async_testkit;
            fn #typed<F: ::core::future::Future<Output = #output>>(future: F) -> F {
                future
            }
            #run_test
        }
    }
}
