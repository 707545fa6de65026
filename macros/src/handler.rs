//! A typed view of the annotated function: its attributes, signature, raw body, and which
//! parameter is the session.
//!
//! The body is kept as the raw brace-delimited token group and never parsed: it is re-emitted
//! byte for byte (with its delimiter spans, so `dead_code` and friends still point at the user's
//! code), and a body syn can't parse never hides our own errors.

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{
    Attribute, GenericArgument, PathArguments, Signature, Token, Type, TypePath, Visibility,
};

/// The last path segment that marks a session parameter.
pub(crate) const SESSION_CONTAINER: &str = "SessionContainer";

/// The annotated function, as written.
pub(crate) struct Handler {
    /// Outer attributes in their original order (`#[get(..)]`, docs, `#[allow(..)]`, …).
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// `{ … }` exactly as written, inner attributes included.
    pub(crate) body: Group,
}

impl Parse for Handler {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        if input.fork().parse::<Signature>().is_err() {
            return Err(input.error(NOT_A_FN));
        }
        let sig: Signature = input.parse()?;
        if input.peek(Token![;]) {
            return Err(input.error("`#[verify_session]` needs a function with a body"));
        }
        let body: Group = input.parse()?;
        if body.delimiter() != Delimiter::Brace {
            return Err(syn::Error::new(
                body.span(),
                "expected the function body `{ … }`",
            ));
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the function body"));
        }
        Ok(Handler {
            attrs,
            vis,
            sig,
            body,
        })
    }
}

/// Reported when the attribute is on a struct, an impl, a const, …
pub(crate) const NOT_A_FN: &str =
    "`#[verify_session]` can only be applied to an `async fn` request handler";

/// What a parameter's type says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    /// `SessionContainer` (any path prefix): a required session.
    Session,
    /// `Option<SessionContainer>`: an optional session.
    OptionalSession,
    /// Anything else: an extractor that runs after verification.
    Extractor,
}

impl ParamKind {
    pub(crate) fn of(ty: &Type) -> Self {
        if is_session_container(ty) {
            ParamKind::Session
        } else if option_argument(ty).is_some_and(is_session_container) {
            ParamKind::OptionalSession
        } else {
            ParamKind::Extractor
        }
    }

    pub(crate) fn is_session(self) -> bool {
        self != ParamKind::Extractor
    }
}

/// A path type with no `<T as Trait>::` qualifier, looking through invisible groups and parens.
fn plain_path(ty: &Type) -> Option<&TypePath> {
    match ty {
        Type::Group(group) => plain_path(&group.elem),
        Type::Paren(paren) => plain_path(&paren.elem),
        Type::Path(path) if path.qself.is_none() => Some(path),
        _ => None,
    }
}

/// `SessionContainer`, `sessionward::SessionContainer`, `::a::b::SessionContainer`, with no
/// generic arguments.
pub(crate) fn is_session_container(ty: &Type) -> bool {
    plain_path(ty)
        .and_then(|path| path.path.segments.last())
        .is_some_and(|last| last.ident == SESSION_CONTAINER && last.arguments.is_none())
}

/// The `T` of `Option<T>`, `std::option::Option<T>` or `core::option::Option<T>` (with or
/// without a leading `::`).
pub(crate) fn option_argument(ty: &Type) -> Option<&Type> {
    let path = &plain_path(ty)?.path;
    let names: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let prefix_ok = match names.as_slice() {
        [option] => option == "Option" && path.leading_colon.is_none(),
        [krate, module, option] => {
            (krate == "std" || krate == "core") && module == "option" && option == "Option"
        }
        _ => false,
    };
    // Only the last segment may carry arguments.
    let segments: Vec<_> = path.segments.iter().collect();
    let (last, init) = segments.split_last()?;
    if !prefix_ok || init.iter().any(|s| !s.arguments.is_none()) {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(inner)] => Some(inner),
        _ => None,
    }
}

/// `&SessionContainer`, `&mut Option<SessionContainer>`, …: a session taken by reference.
pub(crate) fn is_session_reference(ty: &Type) -> bool {
    match ty {
        Type::Group(group) => is_session_reference(&group.elem),
        Type::Paren(paren) => is_session_reference(&paren.elem),
        Type::Reference(reference) => ParamKind::of(&reference.elem).is_session(),
        _ => false,
    }
}

/// Whether `tokens` contain `impl` anywhere (an `impl Trait` argument, possibly nested as in
/// `Option<impl Trait>`). `impl` is a keyword, so in a type it can mean nothing else.
pub(crate) fn find_impl_keyword(tokens: TokenStream) -> Option<proc_macro2::Span> {
    tokens.into_iter().find_map(|token| match token {
        TokenTree::Ident(ident) if ident == "impl" => Some(ident.span()),
        TokenTree::Group(group) => find_impl_keyword(group.stream()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;
    use syn::FnArg;

    fn ty(tokens: TokenStream) -> Type {
        syn::parse2(tokens).unwrap_or_else(|e| panic!("test input: {e}"))
    }

    #[test]
    fn session_types() {
        for tokens in [
            quote!(SessionContainer),
            quote!(sessionward::SessionContainer),
            quote!(::sessionward::prelude::SessionContainer),
            quote!((SessionContainer)),
        ] {
            assert_eq!(
                ParamKind::of(&ty(tokens.clone())),
                ParamKind::Session,
                "{tokens}"
            );
        }
    }

    #[test]
    fn optional_session_types() {
        for tokens in [
            quote!(Option<SessionContainer>),
            quote!(Option<sessionward::SessionContainer>),
            quote!(std::option::Option<SessionContainer>),
            quote!(::core::option::Option<::sessionward::SessionContainer>),
            quote!(Option<SessionContainer,>),
        ] {
            assert_eq!(
                ParamKind::of(&ty(tokens.clone())),
                ParamKind::OptionalSession,
                "{tokens}"
            );
        }
    }

    #[test]
    fn extractor_types() {
        for tokens in [
            quote!(web::Json<Cmd>),
            quote!(SessionContainer<u8>),
            quote!(Session),
            quote!(Option<u32>),
            quote!(Option<SessionContainer, u8>),
            quote!(my::Option<SessionContainer>),
            quote!(::Option<SessionContainer>),
            quote!(std::Option<SessionContainer>),
            quote!(Result<SessionContainer, Error>),
            quote!(Option<Option<SessionContainer>>),
            quote!(<X as Y>::SessionContainer),
            quote!(&SessionContainer),
            quote!((SessionContainer,)),
            quote!(sessions::SessionContainer::<u8>),
        ] {
            assert_eq!(
                ParamKind::of(&ty(tokens.clone())),
                ParamKind::Extractor,
                "{tokens}"
            );
        }
    }

    #[test]
    fn session_references() {
        assert!(is_session_reference(&ty(quote!(&SessionContainer))));
        assert!(is_session_reference(&ty(quote!(
            &'a mut Option<SessionContainer>
        ))));
        assert!(!is_session_reference(&ty(quote!(&str))));
        assert!(!is_session_reference(&ty(quote!(SessionContainer))));
    }

    #[test]
    fn impl_keyword_is_found_at_any_depth() {
        assert!(find_impl_keyword(quote!(impl FromRequest)).is_some());
        assert!(find_impl_keyword(quote!(Option<impl FromRequest>)).is_some());
        assert!(find_impl_keyword(quote!((u8, [impl Sized; 2]))).is_some());
        assert!(find_impl_keyword(quote!(web::Json<Cmd>)).is_none());
    }

    #[test]
    fn parses_a_handler_and_keeps_the_raw_body() {
        let handler: Handler = syn::parse2(quote! {
            /// Docs.
            #[get("/")]
            pub async fn me(s: SessionContainer) -> impl Responder {
                #![allow(unused)]
                this is not (valid rust)
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(handler.attrs.len(), 2);
        assert_eq!(handler.sig.ident, "me");
        assert!(matches!(handler.vis, Visibility::Public(_)));
        assert_eq!(handler.body.delimiter(), Delimiter::Brace);
        assert!(
            handler
                .body
                .stream()
                .to_string()
                .starts_with("# ! [allow (unused)]")
        );
        let Some(FnArg::Typed(param)) = handler.sig.inputs.first() else {
            panic!("expected a typed parameter");
        };
        assert_eq!(ParamKind::of(&param.ty), ParamKind::Session);
    }

    #[test]
    fn rejects_items_that_are_not_functions() {
        for tokens in [
            quote!(
                struct Foo;
            ),
            quote!(
                pub const X: u8 = 1;
            ),
            quote!(impl Foo {}),
            quote!(
                #[doc = "x"]
                mod m {}
            ),
            quote!(
                static S: u8 = 0;
            ),
        ] {
            let error = syn::parse2::<Handler>(tokens).err().map(|e| e.to_string());
            assert_eq!(error.as_deref(), Some(NOT_A_FN));
        }
    }

    #[test]
    fn rejects_functions_without_body() {
        let error = syn::parse2::<Handler>(quote!(
            async fn f();
        ))
        .err();
        assert_eq!(
            error.map(|e| e.to_string()).as_deref(),
            Some("`#[verify_session]` needs a function with a body")
        );
    }
}
