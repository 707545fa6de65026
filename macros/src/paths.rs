//! The one table of runtime paths that expansions name.
//!
//! Every path is absolute (`::sessionward::…`, `::std::…`) so a user's `use` items or local
//! names can't shadow it, and each is built at a caller-chosen span: most use
//! [`Span::call_site`], while [`into_validator`] is re-spanned onto the user's claim entry so a
//! type error there lands on the user's token.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;

/// Defines one function per path: `name(span) -> TokenStream`.
macro_rules! paths {
    ($($(#[$doc:meta])* $name:ident => { $($path:tt)+ })+) => {
        $(
            $(#[$doc])*
            pub(crate) fn $name(span: Span) -> TokenStream {
                quote_spanned!(span=> $($path)+)
            }
        )+
    };
}

paths! {
    /// The trait the per-route marker type implements to hand out its options.
    route_guard => { ::sessionward::__private::RouteGuard }
    /// The options of one route: `RouteOptions::new(required)` plus builder calls.
    route_options => { ::sessionward::__private::RouteOptions }
    /// The single extractor of the rewritten handler: verifies first, then extracts the rest.
    guarded => { ::sessionward::__private::Guarded }
    /// The return type of the rewritten handler: the user's response plus session mutations.
    with_session => { ::sessionward::__private::WithSession }
    /// Turns a claim entry (a claim type or a validator expression) into a validator.
    into_validator => { ::sessionward::__private::into_validator }
    /// The first argument of a rewritten axum handler: verifies, then hands out the session.
    axum_guarded => { ::sessionward::__private::axum::Guarded }
    /// Lazily builds the route's options once.
    once_lock => { ::std::sync::OnceLock }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_absolute() {
        for path in [
            route_guard,
            route_options,
            guarded,
            axum_guarded,
            with_session,
            into_validator,
            once_lock,
        ] {
            let text = path(Span::call_site()).to_string();
            assert!(text.starts_with(":: "), "{text}");
        }
        assert_eq!(
            into_validator(Span::call_site()).to_string(),
            ":: sessionward :: __private :: into_validator"
        );
    }
}
