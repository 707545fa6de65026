//! Collects every mistake of one invocation so a single build reports them all.
//!
//! Modelled on serde_derive's `Ctxt`: checks push into [`Errors`] instead of returning early, and
//! [`Errors::finish`] combines them into one [`syn::Error`] (one `compile_error!` per finding).

use std::fmt::Display;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;

/// A collector of [`syn::Error`]s.
///
/// It must be consumed with [`Errors::finish`] or [`Errors::fail`]; dropping it unchecked is a bug
/// in this crate (never in the user's input) and panics, so a finding can't get lost silently.
pub(crate) struct Errors {
    errors: Option<Vec<syn::Error>>,
}

impl Errors {
    pub(crate) fn new() -> Self {
        Errors {
            errors: Some(Vec::new()),
        }
    }

    /// Records an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        if let Some(errors) = &mut self.errors {
            errors.push(error);
        }
    }

    /// Records `message` at `span`.
    pub(crate) fn at(&mut self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records `message` spanning all of `tokens` (first to last token).
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Whether nothing has been recorded so far.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.errors.as_ref().is_none_or(Vec::is_empty)
    }

    /// Combines everything recorded: `Ok` if nothing was.
    pub(crate) fn finish(mut self) -> syn::Result<()> {
        let errors = self.errors.take().unwrap_or_default();
        match combine(errors) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Combines everything recorded with a last, fatal `error` that stops further checks.
    pub(crate) fn fail(mut self, error: syn::Error) -> syn::Error {
        let mut errors = self.errors.take().unwrap_or_default();
        errors.push(error);
        match combine(errors) {
            Some(error) => error,
            // Unreachable: `errors` holds at least `error`. Kept total instead of unwrapping.
            None => syn::Error::new(Span::call_site(), "invalid `#[verify_session]` input"),
        }
    }
}

impl Drop for Errors {
    fn drop(&mut self) {
        if self.errors.is_some() && !std::thread::panicking() {
            panic!("sessionward-macros bug: `Errors` dropped without `finish` or `fail`");
        }
    }
}

fn combine(errors: Vec<syn::Error>) -> Option<syn::Error> {
    let mut errors = errors.into_iter();
    let mut combined = errors.next()?;
    for error in errors {
        combined.combine(error);
    }
    Some(combined)
}

/// The output on any error: the user's item exactly as written, then the `compile_error!`s.
///
/// Emitting the item unchanged (rather than nothing, or a half-rewritten function) keeps the rest
/// of the crate compiling against it, so users see only our messages and IDEs keep working.
pub(crate) fn fallback(item: TokenStream, error: &syn::Error) -> TokenStream {
    let mut output = item;
    output.extend(error.to_compile_error());
    output
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn finish_without_errors_is_ok() {
        let errors = Errors::new();
        assert!(errors.is_empty());
        assert!(errors.finish().is_ok());
    }

    #[test]
    fn finish_combines_all_errors_in_order() {
        let mut errors = Errors::new();
        errors.at(Span::call_site(), "first");
        errors.spanned(quote!(a b c), "second");
        assert!(!errors.is_empty());
        let error = errors.finish().unwrap_err();
        let messages: Vec<String> = error.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn fail_appends_the_fatal_error_last() {
        let mut errors = Errors::new();
        errors.at(Span::call_site(), "first");
        let error = errors.fail(syn::Error::new(Span::call_site(), "fatal"));
        let messages: Vec<String> = error.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["first", "fatal"]);
    }

    #[test]
    fn fallback_keeps_the_item_and_appends_compile_errors() {
        let item = quote!(
            fn f() {}
        );
        let error = syn::Error::new(Span::call_site(), "oops");
        let output = fallback(item.clone(), &error).to_string();
        assert!(output.starts_with(&item.to_string()), "{output}");
        assert!(output.contains("compile_error"), "{output}");
        assert!(output.contains("\"oops\""), "{output}");
    }

    #[test]
    #[should_panic(expected = "without `finish`")]
    fn dropping_unchecked_errors_panics() {
        let _errors = Errors::new();
    }
}
