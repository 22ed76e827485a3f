//! `#[async_testkit::mock]`: a mock struct with one `AsyncMock` per method of a trait.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::expand::first_token_after_attributes;
use syn::visit::Visit;
use syn::{
    Error, FnArg, GenericArgument, GenericParam, ItemTrait, Lifetime, PathArguments, ReturnType, Signature,
    TraitItem, TraitItemFn, Type, TypeParamBound, WherePredicate,
};

/// The message for an item that is not a trait.
pub(crate) const NOT_A_TRAIT: &str = "#[async_testkit::mock] can only be applied to a trait: write it on \
                                      `trait Name { async fn method(&self, ..) -> T; }`";

/// Expands `#[async_testkit::mock] trait ...`, or explains why it cannot.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut errors: Vec<Error> = Vec::new();
    if !args.is_empty() {
        errors.push(Error::new_spanned(
            &args,
            "#[async_testkit::mock] takes no arguments: write `#[async_testkit::mock]`",
        ));
    }
    let mut item: ItemTrait = match syn::parse2(item.clone()) {
        Ok(t) => t,
        Err(_) => {
            errors.push(Error::new(first_token_after_attributes(&item), NOT_A_TRAIT));
            return Err(combine(errors).expect("at least one error"));
        }
    };
    if errors.is_empty() {
        if let Some(i) = item.attrs.iter().position(is_async_trait) {
            // `#[mock]` above `#[async_trait]`: let async-trait rewrite the trait first, then
            // mock the trait it made (whose methods return boxed futures), so that the mock's
            // impl has the very signatures async-trait gave the trait.
            let async_trait = item.attrs.remove(i);
            return Ok(quote! {
                #async_trait
                #[::async_testkit::mock]
                #item
            });
        }
    }
    let methods = check_trait(&item, &mut errors);
    match combine(errors) {
        Some(err) => Err(err),
        None => Ok(generate(&item, &methods)),
    }
}

/// What the attribute returns: the expansion, or the errors followed by the trait itself.
pub(crate) fn expand_or_error(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args, item.clone()) {
        Ok(tokens) => tokens,
        Err(err) => {
            let mut tokens = err.to_compile_error();
            tokens.extend(item);
            tokens
        }
    }
}

/// `#[async_trait]`, `#[async_trait::async_trait]`, `#[async_trait(?Send)]`.
fn is_async_trait(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "async_trait")
}

fn combine(errors: Vec<Error>) -> Option<Error> {
    let mut errors = errors.into_iter();
    let mut first = errors.next()?;
    for e in errors {
        first.combine(e);
    }
    Some(first)
}

/// How a method hands back its future.
enum Shape {
    /// `async fn`.
    Async,
    /// `-> impl Future<Output = T>`.
    ImplFuture,
    /// `-> Pin<Box<dyn Future<Output = T>>>` or `BoxFuture<'_, T>`.
    Boxed,
}

/// One argument after `self`: its type as recorded, and whether it is borrowed.
struct Arg {
    recorded: TokenStream,
    borrowed: bool,
}

/// A method the mock implements.
struct Method<'a> {
    sig: &'a Signature,
    shape: Shape,
    output: Type,
    args: Vec<Arg>,
}

fn check_trait<'a>(item: &'a ItemTrait, errors: &mut Vec<Error>) -> Vec<Method<'a>> {
    let name = &item.ident;
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        errors.push(Error::new_spanned(
            &item.generics,
            format!("#[async_testkit::mock] cannot mock `{name}`: generic traits are not supported"),
        ));
    }
    if let Some(unsafety) = &item.unsafety {
        errors.push(Error::new(
            unsafety.span,
            format!("#[async_testkit::mock] cannot mock `{name}`: unsafe traits are not supported"),
        ));
    }
    let mut methods = Vec::new();
    for trait_item in &item.items {
        match trait_item {
            TraitItem::Fn(f) => {
                if let Some(m) = check_method(name, f, errors) {
                    methods.push(m);
                }
            }
            TraitItem::Type(t) => errors.push(Error::new_spanned(
                t,
                format!(
                    "#[async_testkit::mock] cannot mock `{name}`: associated type `{}` is not supported",
                    t.ident
                ),
            )),
            TraitItem::Const(c) => errors.push(Error::new_spanned(
                c,
                format!(
                    "#[async_testkit::mock] cannot mock `{name}`: associated const `{}` is not supported",
                    c.ident
                ),
            )),
            other => errors.push(Error::new_spanned(
                other,
                format!("#[async_testkit::mock] cannot mock `{name}`: only methods are supported"),
            )),
        }
    }
    methods
}

/// `cannot mock `Repo::get`: <why>`.
fn method_error(
    spanned: impl quote::ToTokens,
    trait_name: &syn::Ident,
    method: &syn::Ident,
    why: &str,
) -> Error {
    Error::new_spanned(
        spanned,
        format!("#[async_testkit::mock] cannot mock `{trait_name}::{method}`: {why}"),
    )
}

fn check_method<'a>(
    trait_name: &syn::Ident,
    f: &'a TraitItemFn,
    errors: &mut Vec<Error>,
) -> Option<Method<'a>> {
    let sig = &f.sig;
    let name = &sig.ident;
    let before = errors.len();
    let err = |spanned: &dyn quote::ToTokens, why: &str| method_error(spanned, trait_name, name, why);

    if sig
        .generics
        .params
        .iter()
        .any(|p| !matches!(p, GenericParam::Lifetime(_)))
    {
        errors.push(err(
            &sig.generics,
            "generic methods are not supported (a mock records arguments of one type); \
             take a concrete type or `&dyn Trait`",
        ));
    } else if let Some(w) = &sig.generics.where_clause {
        // Lifetime bounds and bounds on `Self` (what async-trait writes) hold for the mock
        // as they do for the trait: the impl repeats them.
        for p in &w.predicates {
            let supported = match p {
                WherePredicate::Lifetime(_) => true,
                WherePredicate::Type(t) => {
                    matches!(peel(&t.bounded_ty), Type::Path(tp) if tp.qself.is_none() && tp.path.is_ident("Self"))
                }
                _ => false,
            };
            if !supported {
                errors.push(err(
                    p,
                    "`where` clauses are supported on lifetimes and `Self` only (as async-trait writes them); \
                     a bound on a type cannot be mocked",
                ));
            }
        }
    }
    if let Some(c) = &sig.constness {
        errors.push(err(c, "`const fn` cannot be mocked"));
    }
    if let Some(u) = &sig.unsafety {
        errors.push(err(u, "`unsafe fn` is not supported"));
    }
    if let Some(v) = &sig.variadic {
        errors.push(err(v, "variadic arguments are not supported"));
    }
    match sig.inputs.first() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() && r.colon_token.is_none() => {}
        Some(FnArg::Receiver(r)) if r.mutability.is_some() && r.reference.is_some() => errors.push(err(
            r,
            "`&mut self` is not supported: a mock is shared by the code under test and the test; take `&self`",
        )),
        Some(FnArg::Receiver(r)) => errors.push(err(r, "only `&self` methods are supported; take `&self`")),
        _ => errors.push(err(
            &sig.ident,
            "methods without `self` are not supported: a mock answers through `&self`",
        )),
    }

    let mut args = Vec::new();
    for input in sig.inputs.iter().skip(1) {
        let FnArg::Typed(pt) = input else { continue };
        match record_type(&pt.ty) {
            Ok(a) => args.push(a),
            Err(why) => errors.push(err(&pt.ty, &why)),
        }
    }

    let (shape, output) = match (&sig.asyncness, &sig.output) {
        (Some(_), ReturnType::Default) => (Shape::Async, syn::parse_quote!(())),
        (Some(_), ReturnType::Type(_, ty)) => (Shape::Async, (**ty).clone()),
        (None, ReturnType::Type(_, ty)) => match future_output(ty) {
            Some((shape, out)) => (shape, out),
            None => {
                errors.push(err(
                    ty,
                    "only async methods are supported: write `async fn`, or return `impl Future<Output = T>`, \
                     `Pin<Box<dyn Future<Output = T>>>` or `BoxFuture<'_, T>`",
                ));
                return None;
            }
        },
        (None, ReturnType::Default) => {
            errors.push(err(
                &sig.ident,
                "only async methods are supported: write `async fn`, or return `impl Future<Output = T>`, \
                 `Pin<Box<dyn Future<Output = T>>>` or `BoxFuture<'_, T>`",
            ));
            return None;
        }
    };
    if has_lifetime(&output) {
        errors.push(err(
            &output,
            "the output borrows (it has a lifetime): a mock hands out values it owns; return an owned type",
        ));
    }
    (errors.len() == before).then_some(Method {
        sig,
        shape,
        output,
        args,
    })
}

/// The owned type an argument is recorded as.
fn record_type(ty: &Type) -> Result<Arg, String> {
    let (inner, borrowed) = match peel(ty) {
        Type::Reference(r) => (&*r.elem, true),
        other => (other, false),
    };
    if has_impl_trait(inner) {
        return Err(
            "`impl Trait` arguments are generic, which is not supported; take a concrete type".into(),
        );
    }
    if has_lifetime(inner) {
        return Err(
            "an argument type with a lifetime cannot be recorded; take an owned type or a plain reference"
                .into(),
        );
    }
    let recorded = if borrowed {
        quote!(<#inner as ::std::borrow::ToOwned>::Owned)
    } else {
        quote!(#inner)
    };
    Ok(Arg { recorded, borrowed })
}

fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => peel(&g.elem),
        Type::Paren(p) => peel(&p.elem),
        other => other,
    }
}

/// `Some((shape, T))` for `impl Future<Output = T>`, `Pin<Box<dyn Future<Output = T>>>`
/// and `BoxFuture<'_, T>` / `LocalBoxFuture<'_, T>`.
fn future_output(ty: &Type) -> Option<(Shape, Type)> {
    match peel(ty) {
        Type::ImplTrait(it) => output_binding(&it.bounds).map(|t| (Shape::ImplFuture, t)),
        Type::Path(p) => {
            let last = p.path.segments.last()?;
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            let types: Vec<&Type> = args
                .args
                .iter()
                .filter_map(|a| match a {
                    GenericArgument::Type(t) => Some(t),
                    _ => None,
                })
                .collect();
            match (last.ident.to_string().as_str(), types.as_slice()) {
                ("BoxFuture" | "LocalBoxFuture", [t]) => Some((Shape::Boxed, (*t).clone())),
                ("Pin", [inner]) => match peel(inner) {
                    Type::Path(b) if b.path.segments.last().is_some_and(|s| s.ident == "Box") => {
                        let PathArguments::AngleBracketed(bargs) = &b.path.segments.last()?.arguments else {
                            return None;
                        };
                        match bargs.args.first()? {
                            GenericArgument::Type(Type::TraitObject(obj)) => {
                                output_binding(&obj.bounds).map(|t| (Shape::Boxed, t))
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// The `T` of a `Future<Output = T>` bound.
fn output_binding<'a>(bounds: impl IntoIterator<Item = &'a TypeParamBound>) -> Option<Type> {
    bounds.into_iter().find_map(|b| {
        let TypeParamBound::Trait(t) = b else { return None };
        let last = t.path.segments.last()?;
        if last.ident != "Future" {
            return None;
        }
        let PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        args.args.iter().find_map(|a| match a {
            GenericArgument::AssocType(at) if at.ident == "Output" => Some(at.ty.clone()),
            _ => None,
        })
    })
}

fn has_lifetime(ty: &Type) -> bool {
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_lifetime(&mut self, l: &Lifetime) {
            if l.ident != "static" {
                self.0 = true;
            }
        }
        fn visit_type_reference(&mut self, r: &syn::TypeReference) {
            if r.lifetime.is_none() {
                self.0 = true;
            }
            syn::visit::visit_type_reference(self, r);
        }
    }
    let mut f = Finder(false);
    f.visit_type(ty);
    f.0
}

fn has_impl_trait(ty: &Type) -> bool {
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_type_impl_trait(&mut self, _: &syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut f = Finder(false);
    f.visit_type(ty);
    f.0
}

fn generate(item: &ItemTrait, methods: &[Method<'_>]) -> TokenStream {
    let trait_name = &item.ident;
    let vis = &item.vis;
    let mock_name = format_ident!("Mock{}", trait_name);
    let kit = quote!(::async_testkit::mock);

    let mut fields = Vec::new();
    let mut inits = Vec::new();
    let mut clones = Vec::new();
    let mut impls = Vec::new();
    for m in methods {
        let name = &m.sig.ident;
        let output = &m.output;
        let recorded: Vec<&TokenStream> = m.args.iter().map(|a| &a.recorded).collect();
        let args_ty = match recorded.as_slice() {
            [one] => quote!(#one),
            many => quote!((#(#many,)*)),
        };
        let doc = format!("The mock of `{trait_name}::{name}`: set its behaviour, read its calls.");
        fields.push(quote! {
            #[doc = #doc]
            pub #name: #kit::AsyncMock<#args_ty, #output>
        });
        let label = format!("{trait_name}::{name}");
        inits.push(quote! {
            #name: #kit::AsyncMock::__for_trait(#label, |args: &#args_ty| {
                #[allow(unused_imports)]
                use ::async_testkit::__private::{DescribeDebug as _, DescribeOpaque as _};
                (&::async_testkit::__private::Describe(args)).describe()
            })
        });
        clones.push(quote!(#name: ::core::clone::Clone::clone(&self.#name)));

        let names: Vec<syn::Ident> = (0..m.args.len()).map(|i| format_ident!("__arg{}", i)).collect();
        let values: Vec<TokenStream> = m
            .args
            .iter()
            .zip(&names)
            .map(|(a, n)| {
                if a.borrowed {
                    quote!(::std::borrow::ToOwned::to_owned(#n))
                } else {
                    quote!(#n)
                }
            })
            .collect();
        let args_value = match values.as_slice() {
            [one] => quote!(#one),
            many => quote!((#(#many,)*)),
        };
        let mut sig = m.sig.clone();
        for (input, n) in sig.inputs.iter_mut().skip(1).zip(&names) {
            if let FnArg::Typed(pt) = input {
                *pt.pat = syn::parse_quote!(#n);
            }
        }
        let call = quote!(self.#name.call(#args_value));
        let body = match m.shape {
            Shape::Async => {
                sig.asyncness = None;
                let span = m.sig.output.span();
                sig.output =
                    syn::parse2(quote_spanned!(span=> -> impl ::core::future::Future<Output = #output>))
                        .expect("a return type parses");
                call
            }
            Shape::ImplFuture => call,
            Shape::Boxed => quote!(::std::boxed::Box::pin(#call)),
        };
        impls.push(quote! {
            #[track_caller]
            #sig {
                #body
            }
        });
    }
    let struct_doc = format!(
        "A mock of [`{trait_name}`], made by `#[async_testkit::mock]`: one \
         `async_testkit::mock::AsyncMock` per method, named after it. Clones share the mocks."
    );
    let new_doc = format!("A `{mock_name}` whose methods have no behaviour yet.");
    quote! {
        #item

        #[doc = #struct_doc]
        #[derive(Debug)]
        #vis struct #mock_name {
            #(#fields,)*
        }

        impl #mock_name {
            #[doc = #new_doc]
            #[track_caller]
            pub fn new() -> Self {
                #mock_name { #(#inits,)* }
            }
        }

        impl ::core::default::Default for #mock_name {
            #[track_caller]
            fn default() -> Self {
                Self::new()
            }
        }

        impl ::core::clone::Clone for #mock_name {
            fn clone(&self) -> Self {
                #mock_name { #(#clones,)* }
            }
        }

        impl #trait_name for #mock_name {
            #(#impls)*
        }
    }
}
