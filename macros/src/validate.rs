//! Semantic checks of the function and of how it fits the options. Every finding goes into
//! [`Errors`]; the result, [`Route`], is what expansion needs and is only used when nothing was
//! found.

use proc_macro2::{Group, Span};
use quote::ToTokens;
use syn::{Attribute, FnArg, Signature, Type, Visibility};

use crate::args::{ClaimEntry, Setting, VerifySessionArgs};
use crate::errors::Errors;
use crate::handler::{Handler, ParamKind, find_impl_keyword, is_session_reference};

/// The most extractor parameters besides the session; the runtime's `Guarded` extracts tuples up
/// to this size.
pub(crate) const MAX_EXTRACTORS: usize = 16;

/// A checked handler, ready to expand.
pub(crate) struct Route {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) body: Group,
    /// Every parameter's type in order, and whether it is the session.
    pub(crate) params: Vec<Param>,
    pub(crate) options: Options,
}

/// One parameter of the handler.
pub(crate) struct Param {
    pub(crate) ty: Type,
    pub(crate) is_session: bool,
}

impl Route {
    /// The session parameter's type, if the handler takes one.
    pub(crate) fn session_ty(&self) -> Option<&Type> {
        self.params.iter().find(|p| p.is_session).map(|p| &p.ty)
    }
}

/// The route's options with defaults applied. Each span is the option name's (call site for a
/// default), so code generated for an option is spanned where the user wrote it.
pub(crate) struct Options {
    pub(crate) required: (bool, Span),
    /// `Some` only when written, so the configured default applies otherwise.
    pub(crate) anti_csrf: Option<(bool, Span)>,
    /// `Some` only when written.
    pub(crate) check_database: Option<(bool, Span)>,
    pub(crate) claims: Vec<ClaimEntry>,
    /// `Some` only when written.
    pub(crate) override_claims: Option<(syn::Path, Span)>,
    /// `Some` only when written.
    pub(crate) tenant_param: Option<(syn::LitStr, Span)>,
}

/// Checks `handler` against `args`, reporting into `errors`.
pub(crate) fn route(args: VerifySessionArgs, handler: Handler, errors: &mut Errors) -> Route {
    check_signature(&handler.sig, errors);
    let params = check_params(&handler.sig, &args.required, errors);
    let options = Options {
        required: given(&args.required).unwrap_or((true, Span::call_site())),
        anti_csrf: given(&args.anti_csrf),
        check_database: given(&args.check_database),
        claims: match args.claims {
            Setting::Given(claims, _) => claims,
            Setting::Default | Setting::Invalid => Vec::new(),
        },
        override_claims: match args.override_claims {
            Setting::Given(path, span) => Some((path, span)),
            Setting::Default | Setting::Invalid => None,
        },
        tenant_param: match args.tenant_param {
            Setting::Given(name, span) => Some((name, span)),
            Setting::Default | Setting::Invalid => None,
        },
    };
    Route {
        attrs: handler.attrs,
        vis: handler.vis,
        sig: handler.sig,
        body: handler.body,
        params,
        options,
    }
}

fn given(setting: &Setting<bool>) -> Option<(bool, Span)> {
    setting.given_at().map(|(value, span)| (*value, span))
}

const GENERIC: &str = "`#[verify_session]` does not support generic functions; give every \
                       parameter a concrete type";

fn check_signature(sig: &Signature, errors: &mut Errors) {
    if let Some(constness) = &sig.constness {
        // `const async fn` is not Rust, so this also covers the missing `async`.
        errors.spanned(
            constness,
            "`#[verify_session]` needs an `async fn`; `const fn` is not supported",
        );
    } else if sig.asyncness.is_none() {
        errors.spanned(sig.fn_token, "`#[verify_session]` needs an `async fn`");
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.spanned(unsafety, "`#[verify_session]` does not support `unsafe fn`");
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(
            abi,
            "`#[verify_session]` does not support `extern` functions",
        );
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(&sig.generics, GENERIC);
    } else if let Some(where_clause) = &sig.generics.where_clause {
        errors.spanned(where_clause, GENERIC);
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(
            variadic,
            "`#[verify_session]` does not support variadic functions",
        );
    }
}

fn check_params(sig: &Signature, required: &Setting<bool>, errors: &mut Errors) -> Vec<Param> {
    let required = match required {
        Setting::Default => Some(true),
        Setting::Given(required, _) => Some(*required),
        // Already reported; a guess would add a second, misleading error.
        Setting::Invalid => None,
    };
    let mut params = Vec::with_capacity(sig.inputs.len());
    let mut has_session = false;
    let mut extractors = 0;
    for input in &sig.inputs {
        let param = match input {
            FnArg::Receiver(receiver) => {
                errors.spanned(
                    receiver.self_token,
                    "`#[verify_session]` works on free functions; `self` is not supported",
                );
                continue;
            }
            FnArg::Typed(param) => param,
        };
        if let Some(span) = find_impl_keyword(param.ty.to_token_stream()) {
            errors.at(
                span,
                "`impl Trait` parameters make the function generic, which `#[verify_session]` \
                 does not support; use a concrete type",
            );
        }
        let kind = ParamKind::of(&param.ty);
        let is_session = kind.is_session() && !has_session;
        if is_session {
            check_session(&param.ty, kind, required, errors);
            has_session = true;
        } else if kind.is_session() {
            errors.spanned(param, "only one session parameter is allowed");
        } else {
            if is_session_reference(&param.ty) {
                errors.spanned(
                    &param.ty,
                    "the session is taken by value: write `SessionContainer` (or \
                     `Option<SessionContainer>` with `required = false`), not a reference",
                );
            }
            extractors += 1;
            if extractors == MAX_EXTRACTORS + 1 {
                errors.spanned(
                    param,
                    format!(
                        "too many parameters: `#[verify_session]` supports at most \
                         {MAX_EXTRACTORS} parameters besides the session; group some into a \
                         tuple, e.g. `(a, b): (A, B)`"
                    ),
                );
            }
        }
        params.push(Param {
            ty: (*param.ty).clone(),
            is_session,
        });
    }
    params
}

fn check_session(ty: &Type, kind: ParamKind, required: Option<bool>, errors: &mut Errors) {
    match (kind, required) {
        (ParamKind::Session, Some(false)) => errors.spanned(
            ty,
            "a session parameter of type `SessionContainer` needs `required = true` (the \
             default); use `Option<SessionContainer>` with `required = false`",
        ),
        (ParamKind::OptionalSession, Some(true)) => errors.spanned(
            ty,
            "`Option<SessionContainer>` needs `required = false`; with a required session use \
             `SessionContainer`",
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::TokenStream;
    use quote::quote;

    fn check(args: TokenStream, item: TokenStream) -> (Option<Route>, Vec<String>) {
        let mut errors = Errors::new();
        let args = VerifySessionArgs::parse(args, &mut errors);
        let handler: Handler = match syn::parse2(item) {
            Ok(handler) => handler,
            Err(error) => {
                let error = errors.fail(error);
                return (None, error.into_iter().map(|e| e.to_string()).collect());
            }
        };
        let route = route(args, handler, &mut errors);
        match errors.finish() {
            Ok(()) => (Some(route), Vec::new()),
            Err(error) => (None, error.into_iter().map(|e| e.to_string()).collect()),
        }
    }

    fn ok(args: TokenStream, item: TokenStream) -> Route {
        let (route, errors) = check(args, item);
        assert!(errors.is_empty(), "{errors:?}");
        route.unwrap_or_else(|| panic!("no route"))
    }

    fn sessions(route: &Route) -> Vec<bool> {
        route.params.iter().map(|p| p.is_session).collect()
    }

    #[test]
    fn finds_the_session_at_any_position() {
        let route = ok(
            quote!(),
            quote!(
                async fn f(s: SessionContainer) {}
            ),
        );
        assert_eq!(sessions(&route), [true]);
        let route = ok(
            quote!(),
            quote!(
                async fn f(a: A, mut s: sg::SessionContainer, web::Json(b): web::Json<B>) {}
            ),
        );
        assert_eq!(sessions(&route), [false, true, false]);
        let route = ok(
            quote!(required = false),
            quote!(
                async fn f(a: A, b: B, _: Option<SessionContainer>) {}
            ),
        );
        assert_eq!(sessions(&route), [false, false, true]);
        assert_eq!(
            route.session_ty().map(|t| t.to_token_stream().to_string()),
            Some("Option < SessionContainer >".to_owned())
        );
    }

    #[test]
    fn guard_only_needs_no_session() {
        let route = ok(
            quote!(claims = [EmailVerified]),
            quote!(
                async fn f(p: Path<u32>) {}
            ),
        );
        assert_eq!(sessions(&route), [false]);
        assert!(route.session_ty().is_none());
        let route = ok(
            quote!(required = false),
            quote!(
                async fn f() {}
            ),
        );
        assert!(route.params.is_empty());
        assert!(!route.options.required.0);
    }

    #[test]
    fn defaults_and_given_options() {
        let route = ok(
            quote!(),
            quote!(
                async fn f() {}
            ),
        );
        assert!(route.options.required.0);
        assert!(route.options.anti_csrf.is_none());
        assert!(route.options.check_database.is_none());
        assert!(route.options.claims.is_empty());

        let route = ok(
            quote!(
                required = true,
                anti_csrf = false,
                check_database = true,
                claims = [A, b()]
            ),
            quote!(
                async fn f() {}
            ),
        );
        assert!(route.options.required.0);
        assert_eq!(route.options.anti_csrf.map(|(on, _)| on), Some(false));
        assert_eq!(route.options.check_database.map(|(on, _)| on), Some(true));
        assert_eq!(route.options.claims.len(), 2);
    }

    #[test]
    fn required_must_match_the_session_type() {
        let (_, errors) = check(
            quote!(required = false),
            quote!(
                async fn f(s: SessionContainer) {}
            ),
        );
        assert_eq!(
            errors,
            [
                "a session parameter of type `SessionContainer` needs `required = true` (the default); use `Option<SessionContainer>` with `required = false`"
            ]
        );
        for args in [quote!(), quote!(required = true)] {
            let (_, errors) = check(
                args,
                quote!(
                    async fn f(s: Option<SessionContainer>) {}
                ),
            );
            assert_eq!(
                errors,
                [
                    "`Option<SessionContainer>` needs `required = false`; with a required session use `SessionContainer`"
                ]
            );
        }
    }

    #[test]
    fn invalid_required_skips_the_cross_check() {
        let (_, errors) = check(
            quote!(required = "no"),
            quote!(
                async fn f(s: Option<SessionContainer>) {}
            ),
        );
        assert_eq!(errors, ["`required` expects `true` or `false`"]);
    }

    #[test]
    fn only_one_session() {
        let (_, errors) = check(
            quote!(),
            quote!(
                async fn f(a: SessionContainer, b: Option<SessionContainer>) {}
            ),
        );
        assert_eq!(errors, ["only one session parameter is allowed"]);
    }

    #[test]
    fn signature_errors_are_all_reported() {
        let (_, errors) = check(
            quote!(),
            quote!(
                const unsafe extern "C" fn f<T>(&self, x: impl Tr) {}
            ),
        );
        assert_eq!(
            errors,
            [
                "`#[verify_session]` needs an `async fn`; `const fn` is not supported",
                "`#[verify_session]` does not support `unsafe fn`",
                "`#[verify_session]` does not support `extern` functions",
                GENERIC,
                "`#[verify_session]` works on free functions; `self` is not supported",
                "`impl Trait` parameters make the function generic, which `#[verify_session]` does not support; use a concrete type",
            ]
        );
    }

    #[test]
    fn where_clauses_lifetimes_and_const_generics_are_generic() {
        for item in [
            quote!(
                async fn f()
                where
                    u8: Copy,
                {
                }
            ),
            quote!(
                async fn f<'a>(x: &'a str) {}
            ),
            quote!(
                async fn f<const N: usize>() {}
            ),
        ] {
            let (_, errors) = check(quote!(), item);
            assert_eq!(errors, [GENERIC]);
        }
    }

    #[test]
    fn variadics_are_rejected() {
        let (_, errors) = check(
            quote!(),
            quote!(
                async unsafe extern "C" fn f(a: u8, ...) {}
            ),
        );
        assert!(
            errors.contains(&"`#[verify_session]` does not support variadic functions".to_owned()),
            "{errors:?}"
        );
    }

    #[test]
    fn args_and_fn_errors_come_together() {
        let (_, errors) = check(
            quote!(requird = true),
            quote!(
                fn f() {}
            ),
        );
        assert_eq!(
            errors,
            [
                "unknown option `requird`; expected one of `required`, `claims`, `anti_csrf`, `check_database`, `override_claims`, `tenant_param`",
                "`#[verify_session]` needs an `async fn`",
            ]
        );
        let (_, errors) = check(
            quote!(required = 1),
            quote!(
                struct S;
            ),
        );
        assert_eq!(
            errors,
            [
                "`required` expects `true` or `false`",
                crate::handler::NOT_A_FN,
            ]
        );
    }

    #[test]
    fn sixteen_extractors_is_the_limit() {
        let params = (0..16).map(|i| quote::format_ident!("a{i}"));
        let route = ok(
            quote!(),
            quote!(async fn f(s: SessionContainer, #(#params: u8),*) {}),
        );
        assert_eq!(route.params.len(), 17);

        let params = (0..18).map(|i| quote::format_ident!("a{i}"));
        let (_, errors) = check(quote!(), quote!(async fn f(#(#params: u8),*) {}));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("too many parameters"), "{errors:?}");
    }

    #[test]
    fn session_references_get_a_hint() {
        let (_, errors) = check(
            quote!(),
            quote!(
                async fn f(s: &SessionContainer) {}
            ),
        );
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("the session is taken by value"));
    }
}
