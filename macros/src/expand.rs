//! Code generation: the entry point that runs parse → validate → expand, and the infallible
//! expansion of a checked [`Route`].
//!
//! For `#[verify_session(opts)] async fn name(params) -> Ret { body }` the output is a marker type
//! carrying the route's options, and one `async fn name` that takes a single
//! `Guarded<Session, (Extractors,), Marker>` and calls the user's function, nested unchanged
//! inside it, with the parts in their original order. See the crate docs for why the user's
//! extractors are nested inside the guard.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::ReturnType;

use crate::args::VerifySessionArgs;
use crate::errors::{self, Errors};
use crate::handler::Handler;
use crate::paths;
use crate::validate::{self, Route};

/// Set at compile time to print every expansion to stderr (like axum's `AXUM_MACROS_DEBUG`).
pub(crate) const DEBUG_ENV: &str = "SESSIONWARD_MACROS_DEBUG";

/// The web framework an expansion is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framework {
    /// actix-web: one extractor that verifies, then extracts the handler's own arguments.
    Actix,
    /// axum: a first `FromRequestParts` argument that verifies (axum extracts in order).
    Axum,
}

/// `#[verify_session]`: the expansion, or on any error the item unchanged plus the errors.
pub(crate) fn verify_session(args: TokenStream, item: TokenStream) -> TokenStream {
    verify_session_for(Framework::Actix, args, item)
}

/// [`verify_session`] for `framework`.
pub(crate) fn verify_session_for(
    framework: Framework,
    args: TokenStream,
    item: TokenStream,
) -> TokenStream {
    let output = match check(args, item.clone()) {
        Ok(route) => match framework {
            Framework::Actix => expand(&route),
            Framework::Axum => expand_axum(&route),
        },
        Err(error) => errors::fallback(item, &error),
    };
    if std::env::var_os(DEBUG_ENV).is_some() {
        eprintln!("{DEBUG_ENV}: #[verify_session] expanded to:\n{output}\n");
    }
    output
}

/// Parses and validates, collecting every mistake.
fn check(args: TokenStream, item: TokenStream) -> syn::Result<Route> {
    let mut errors = Errors::new();
    let args = VerifySessionArgs::parse(args, &mut errors);
    let handler = match syn::parse2::<Handler>(item) {
        Ok(handler) => handler,
        Err(error) => return Err(errors.fail(error)),
    };
    let route = validate::route(args, handler, &mut errors);
    errors.finish()?;
    Ok(route)
}

/// The name of the inner function that holds the user's parameters and body.
const INNER: &str = "__sw_handler";

/// Emits the marker type, its options, and the rewritten handler.
pub(crate) fn expand(route: &Route) -> TokenStream {
    let call_site = Span::call_site();
    let Route {
        attrs,
        vis,
        sig,
        body,
        params,
        ..
    } = route;
    let name = &sig.ident;
    let marker = format_ident!("__sw_route_{}", name, span = call_site);

    let guarded = paths::guarded(call_site);
    let with_session = paths::with_session(call_site);

    let session_ty = route
        .session_ty()
        .map_or_else(|| quote!(()), ToTokens::to_token_stream);
    let extractor_tys = params.iter().filter(|p| !p.is_session).map(|p| &p.ty);
    let ret = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };

    let session_binding = if route.session_ty().is_some() {
        quote!(__sw_session)
    } else {
        quote!(_)
    };
    let mut arg_idents: Vec<Ident> = Vec::new();
    let call_args: Vec<Ident> = params
        .iter()
        .map(|param| {
            if param.is_session {
                Ident::new("__sw_session", call_site)
            } else {
                let ident = format_ident!("__sw_arg{}", arg_idents.len(), span = call_site);
                arg_idents.push(ident.clone());
                ident
            }
        })
        .collect();

    // The user's function, renamed, nested unchanged: every token of the signature and the body
    // keeps its span, so lints and type errors point at the user's code, and `return` / `?`
    // keep their meaning.
    let mut inner_sig = sig.clone();
    inner_sig.ident = Ident::new(INNER, call_site);
    let inner = Ident::new(INNER, call_site);
    let asyncness = &sig.asyncness;
    let fn_token = &sig.fn_token;

    // The outer function's parentheses and braces take the spans of the user's, as
    // tracing-attributes does: rustc builds the item's span from its first and last tokens, and
    // an item whose span comes from a macro expansion gets no `dead_code` warning.
    let mut outer_params = TokenStream::new();
    sig.paren_token.surround(&mut outer_params, |tokens| {
        tokens.extend(quote! {
            __sw_guard: #guarded<#session_ty, (#(#extractor_tys,)*), #marker>,
        });
    });
    let mut outer_body = Group::new(
        Delimiter::Brace,
        quote! {
            // The user's function must stay `async` (actix needs it, and its body may `.await`).
            // Clippy's pedantic `unused_async` spares a handler passed by value to actix
            // (rust-lang/rust-clippy#9359, fixed by #11200) but this one is only called, so it
            // would flag a handler that was fine before the attribute.
            #[allow(clippy::unused_async)]
            #inner_sig #body
            let (#session_binding, (#(#arg_idents,)*), __sw_response) = __sw_guard.into_parts();
            __sw_response.wrap(#inner(#(#call_args),*).await)
        },
    );
    outer_body.set_span(body.span());

    let marker_item = route_marker(route, &marker);
    quote! {
        #marker_item
        #(#attrs)*
        #vis #asyncness #fn_token #name #outer_params -> #with_session<#ret> #outer_body
    }
}

/// The marker type of a route and its `RouteGuard` impl, which builds the route's options once;
/// both exist exactly when the handler does (its `cfg` attributes).
fn route_marker(route: &Route, marker: &Ident) -> TokenStream {
    let call_site = Span::call_site();
    let route_guard = paths::route_guard(call_site);
    let route_options = paths::route_options(call_site);
    let once_lock = paths::once_lock(call_site);
    let chain = options_chain(route);
    let vis = &route.vis;
    let cfgs = route
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"));
    let cfgs_again = cfgs.clone();
    quote! {
        #(#cfgs)*
        #[doc(hidden)]
        // The marker is only ever named as a type, never constructed.
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #marker;

        #(#cfgs_again)*
        impl #route_guard for #marker {
            fn options() -> &'static #route_options {
                static __SW_OPTIONS: #once_lock<#route_options> = #once_lock::new();
                __SW_OPTIONS.get_or_init(|| { #chain })
            }
        }
    }
}

/// The options of a route as a builder chain on `RouteOptions::new(required)`.
fn options_chain(route: &Route) -> TokenStream {
    let options = &route.options;
    let route_options = paths::route_options(Span::call_site());
    let (required, required_span) = options.required;
    let new_options = quote_spanned!(required_span=> #route_options::new(#required));
    let anti_csrf = options
        .anti_csrf
        .map(|(on, span)| quote_spanned!(span=> .anti_csrf_check(#on)));
    let check_database = options
        .check_database
        .map(|(on, span)| quote_spanned!(span=> .check_database(#on)));
    let override_claims = options
        .override_claims
        .as_ref()
        .map(|(path, span)| quote_spanned!(*span=> .override_claims(#path)));
    let tenant_param = options
        .tenant_param
        .as_ref()
        .map(|(name, span)| quote_spanned!(*span=> .tenant_param(#name)));
    let claims = options.claims.iter().map(|claim| {
        let into_validator = paths::into_validator(claim.span);
        let expr = &claim.expr;
        quote_spanned!(claim.span=> .claim(#into_validator(#expr)))
    });
    quote! {
        #new_options
            #anti_csrf
            #check_database
            #override_claims
            #tenant_param
            #(#claims)*
    }
}

/// The axum expansion: the marker type, and the handler with a first argument that verifies
/// the session before axum extracts the others (it extracts arguments in order, request parts
/// first), then calls the user's function, nested unchanged, with the parts in their order.
/// Session changes reach the response through `SessionLayer`, so the return type is kept.
pub(crate) fn expand_axum(route: &Route) -> TokenStream {
    let call_site = Span::call_site();
    let Route {
        attrs,
        vis,
        sig,
        body,
        params,
        ..
    } = route;
    let name = &sig.ident;
    let marker = format_ident!("__sw_route_{}", name, span = call_site);
    let guarded = paths::axum_guarded(call_site);
    let session_ty = route
        .session_ty()
        .map_or_else(|| quote!(()), ToTokens::to_token_stream);

    let mut outer_args = Vec::new();
    let call_args: Vec<Ident> = params
        .iter()
        .enumerate()
        .map(|(i, param)| {
            if param.is_session {
                Ident::new("__sw_session", call_site)
            } else {
                let ident = format_ident!("__sw_arg{}", i, span = call_site);
                let ty = &param.ty;
                outer_args.push(quote!(#ident: #ty));
                ident
            }
        })
        .collect();
    let session_binding = if route.session_ty().is_some() {
        quote!(__sw_session)
    } else {
        quote!(_)
    };
    let mut inner_sig = sig.clone();
    inner_sig.ident = Ident::new(INNER, call_site);
    let inner = Ident::new(INNER, call_site);
    let asyncness = &sig.asyncness;
    let fn_token = &sig.fn_token;
    let output = &sig.output;

    let mut outer_params = TokenStream::new();
    sig.paren_token.surround(&mut outer_params, |tokens| {
        tokens.extend(quote! {
            __sw_guard: #guarded<#session_ty, #marker>, #(#outer_args,)*
        });
    });
    let mut outer_body = Group::new(
        Delimiter::Brace,
        quote! {
            // See the actix expansion: the nested function is only called.
            #[allow(clippy::unused_async)]
            #inner_sig #body
            let #session_binding = __sw_guard.into_session();
            #inner(#(#call_args),*).await
        },
    );
    outer_body.set_span(body.span());

    let marker_item = route_marker(route, &marker);
    quote! {
        #marker_item
        #(#attrs)*
        #vis #asyncness #fn_token #name #outer_params #output #outer_body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proc_macro2::{Delimiter, TokenTree};

    /// One space between all tokens, whatever their spacing, so texts compare token by token.
    fn normalize(tokens: TokenStream) -> String {
        let mut out = String::new();
        for token in tokens {
            match token {
                TokenTree::Group(group) => {
                    let (open, close) = match group.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::None => ("", ""),
                    };
                    out.push_str(&format!("{open} {}{close} ", normalize(group.stream())));
                }
                TokenTree::Punct(punct) => out.push_str(&format!("{} ", punct.as_char())),
                other => out.push_str(&format!("{other} ")),
            }
        }
        out
    }

    fn expand_str(args: TokenStream, item: TokenStream) -> String {
        normalize(verify_session(args, item))
    }

    fn tokens(text: &str) -> String {
        normalize(
            text.parse::<TokenStream>()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .trim_end()
        .to_owned()
    }

    #[test]
    fn required_session_with_extractors_in_original_order() {
        let output = expand_str(
            quote!(),
            quote! {
                /// Docs.
                #[get("/me")]
                pub async fn me(web::Json(body): web::Json<Cmd>, s: SessionContainer, p: Path<u32>) -> impl Responder {
                    body
                }
            },
        );
        let expected = tokens(
            r#"
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code)]
            pub struct __sw_route_me;

            impl ::sessionward::__private::RouteGuard for __sw_route_me {
                fn options() -> &'static ::sessionward::__private::RouteOptions {
                    static __SW_OPTIONS: ::std::sync::OnceLock<::sessionward::__private::RouteOptions> = ::std::sync::OnceLock::new();
                    __SW_OPTIONS.get_or_init(|| {
                        ::sessionward::__private::RouteOptions::new(true)
                    })
                }
            }

            #[doc = r" Docs."]
            #[get("/me")]
            pub async fn me(
                __sw_guard: ::sessionward::__private::Guarded<SessionContainer, (web::Json<Cmd>, Path<u32>,), __sw_route_me>,
            ) -> ::sessionward::__private::WithSession<impl Responder> {
                #[allow(clippy::unused_async)]
                async fn __sw_handler(web::Json(body): web::Json<Cmd>, s: SessionContainer, p: Path<u32>) -> impl Responder {
                    body
                }
                let (__sw_session, (__sw_arg0, __sw_arg1,), __sw_response) = __sw_guard.into_parts();
                __sw_response.wrap(__sw_handler(__sw_arg0, __sw_session, __sw_arg1).await)
            }
            "#,
        );
        assert_eq!(output.trim_end(), expected);
    }

    #[test]
    fn axum_handlers_verify_in_a_first_argument_and_keep_their_return_type() {
        let output = normalize(verify_session_for(
            Framework::Axum,
            quote!(claims = [Roles::includes("admin")]),
            quote! {
                pub async fn admin(Path(id): Path<u32>, s: SessionContainer, Json(b): Json<Cmd>) -> Result<Json<Out>, AppError> {
                    todo!()
                }
            },
        ));
        let expected = tokens(
            r#"
            pub async fn admin(
                __sw_guard: ::sessionward::__private::axum::Guarded<SessionContainer, __sw_route_admin>,
                __sw_arg0: Path<u32>,
                __sw_arg2: Json<Cmd>,
            ) -> Result<Json<Out>, AppError> {
                #[allow(clippy::unused_async)]
                async fn __sw_handler(Path(id): Path<u32>, s: SessionContainer, Json(b): Json<Cmd>) -> Result<Json<Out>, AppError> {
                    todo!()
                }
                let __sw_session = __sw_guard.into_session();
                __sw_handler(__sw_arg0, __sw_session, __sw_arg2).await
            }
            "#,
        );
        assert!(output.trim_end().ends_with(&expected), "{output}");
        assert!(output.contains(&tokens(
            r#".claim(::sessionward::__private::into_validator(Roles::includes("admin")))"#
        )));
    }

    #[test]
    fn options_are_chained_in_order() {
        let output = expand_str(
            quote!(
                required = false,
                claims = [
                    EmailVerified::is_verified(),
                    Roles::includes("admin"),
                    EmailVerified
                ],
                check_database = true,
                anti_csrf = false,
            ),
            quote!(
                async fn f(s: Option<SessionContainer>) -> HttpResponse {
                    todo!()
                }
            ),
        );
        let chain = tokens(
            r#"::sessionward::__private::RouteOptions::new(false)
                .anti_csrf_check(false)
                .check_database(true)
                .claim(::sessionward::__private::into_validator(EmailVerified::is_verified()))
                .claim(::sessionward::__private::into_validator(Roles::includes("admin")))
                .claim(::sessionward::__private::into_validator(EmailVerified))"#,
        );
        assert!(output.contains(&chain), "{output}");
        assert!(
            output.contains(&tokens(
                "Guarded<Option<SessionContainer>, (), __sw_route_f>"
            )),
            "{output}"
        );
    }

    #[test]
    fn guard_only_without_return_type() {
        let output = expand_str(
            quote!(claims = [EmailVerified]),
            quote!(
                async fn guard_only(path: web::Path<u32>) {
                    let _ = path;
                }
            ),
        );
        let expected_sig = tokens(
            "async fn guard_only(
                __sw_guard: ::sessionward::__private::Guarded<(), (web::Path<u32>,), __sw_route_guard_only>,
            ) -> ::sessionward::__private::WithSession<()> {
                #[allow(clippy::unused_async)]
                async fn __sw_handler(path: web::Path<u32>) { let _ = path; }
                let (_, (__sw_arg0,), __sw_response) = __sw_guard.into_parts();
                __sw_response.wrap(__sw_handler(__sw_arg0).await)
            }",
        );
        assert!(output.trim_end().ends_with(&expected_sig), "{output}");
    }

    #[test]
    fn no_params_at_all() {
        let output = expand_str(
            quote!(required = false),
            quote!(
                async fn f() -> u8 {
                    1
                }
            ),
        );
        assert!(
            output.contains(&tokens(
                "let (_, (), __sw_response) = __sw_guard.into_parts();"
            )),
            "{output}"
        );
        assert!(output.contains(&tokens("__sw_handler().await")), "{output}");
    }

    #[test]
    fn cfg_attributes_are_copied_to_the_marker() {
        let output = expand_str(
            quote!(),
            quote!(
                #[cfg(feature = "x")]
                #[allow(unused)]
                async fn f() {}
            ),
        );
        assert!(
            output.starts_with(&tokens(
                "#[cfg(feature = \"x\")] #[doc(hidden)] #[allow(non_camel_case_types, dead_code)] struct __sw_route_f;"
            )),
            "{output}"
        );
        assert!(
            output.contains(&tokens(
                "#[cfg(feature = \"x\")] impl ::sessionward::__private::RouteGuard for __sw_route_f"
            )),
            "{output}"
        );
        assert!(
            output.contains(&tokens(
                "#[cfg(feature = \"x\")] #[allow(unused)] async fn f"
            )),
            "{output}"
        );
    }

    #[test]
    fn raw_identifier_names() {
        let output = expand_str(
            quote!(),
            quote!(
                async fn r#type() {}
            ),
        );
        assert!(
            output.contains(&tokens("struct __sw_route_type;")),
            "{output}"
        );
        assert!(output.contains(&tokens("async fn r#type")), "{output}");
    }

    #[test]
    fn inner_attributes_stay_in_the_inner_body() {
        let output = expand_str(
            quote!(),
            quote!(
                async fn f() {
                    #![allow(unused_variables)]
                    let x = 1;
                }
            ),
        );
        assert!(
            output.contains(&tokens(
                "#[allow(clippy::unused_async)] async fn __sw_handler() { #![allow(unused_variables)] let x = 1; }"
            )),
            "{output}"
        );
    }

    #[test]
    fn errors_keep_the_item_unchanged() {
        let item = quote!(
            fn f(self, s: SessionContainer) {}
        );
        let output = expand_str(quote!(requird = true), item.clone());
        assert!(output.starts_with(&normalize(item)), "{output}");
        assert_eq!(output.matches("compile_error").count(), 3, "{output}");
        assert!(!output.contains("__sw_"), "{output}");

        let item = quote!(
            struct S;
        );
        let output = expand_str(quote!(), item.clone());
        assert!(output.starts_with(&normalize(item)), "{output}");
        assert_eq!(output.matches("compile_error").count(), 1, "{output}");
    }
}
