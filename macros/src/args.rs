//! The options of `#[verify_session(…)]`: syntax first ([`RawArgs`]), then one typed value per
//! option with the span it was written at ([`VerifySessionArgs`]).
//!
//! Grammar: a comma-separated list (trailing comma allowed, may be empty) of `name = value`.
//! To add an option: a name constant, a field, an arm in [`VerifySessionArgs::parse`], and an
//! entry in [`OPTIONS`] (which the "unknown option" message lists).

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Lit, Token};

use crate::errors::Errors;

/// `required = <bool>`: whether a request without a session is rejected (default `true`).
pub(crate) const REQUIRED: &str = "required";
/// `claims = [<entry>, …]`: claim validators that must pass.
pub(crate) const CLAIMS: &str = "claims";
/// `anti_csrf = <bool>`: overrides the configured anti-CSRF check for this route.
pub(crate) const ANTI_CSRF: &str = "anti_csrf";
/// `check_database = <bool>`: also ask the core whether the session still exists (default `false`).
pub(crate) const CHECK_DATABASE: &str = "check_database";

/// `override_claims = <path to fn>`: chooses the route's validators instead of the global ones.
pub(crate) const OVERRIDE_CLAIMS: &str = "override_claims";
/// `tenant_param = "<name>"`: the path parameter whose value the session's tenant must equal.
pub(crate) const TENANT_PARAM: &str = "tenant_param";

/// Every option name, in the order the documentation and messages list them.
pub(crate) const OPTIONS: &[&str] = &[
    REQUIRED,
    CLAIMS,
    ANTI_CSRF,
    CHECK_DATABASE,
    OVERRIDE_CLAIMS,
    TENANT_PARAM,
];

/// What `claims = …` accepts, shown when it gets something else.
const CLAIMS_EXAMPLE: &str = "`claims = [EmailVerified, Roles::includes(\"admin\")]`";

/// One option as written: `name`, `name =`, or `name = value`.
pub(crate) struct RawOption {
    pub(crate) name: Ident,
    pub(crate) value: Option<Expr>,
}

impl Parse for RawOption {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `parse_any` so keywords (`type = …`) are reported as unknown options, not syntax errors.
        if !input.peek(Ident::peek_any) {
            return Err(input.error(format!("expected an option name: one of {}", list(OPTIONS))));
        }
        let name = input.call(Ident::parse_any)?;
        if input.is_empty() || input.peek(Token![,]) {
            return Ok(RawOption { name, value: None });
        }
        if !input.peek(Token![=]) {
            return Err(input.error(format!(
                "expected `=` after `{name}`; options are written `name = value`"
            )));
        }
        input.parse::<Token![=]>()?;
        if input.is_empty() || input.peek(Token![,]) {
            return Ok(RawOption { name, value: None });
        }
        let value = input.parse()?;
        Ok(RawOption {
            name,
            value: Some(value),
        })
    }
}

/// The attribute's arguments, syntax only.
pub(crate) struct RawArgs {
    pub(crate) options: Punctuated<RawOption, Token![,]>,
}

impl Parse for RawArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Ok(RawArgs {
            options: Punctuated::parse_terminated(input)?,
        })
    }
}

/// One option after checking.
#[derive(Debug, Clone)]
pub(crate) enum Setting<T> {
    /// Not written: the default applies.
    Default,
    /// Written, with a valid value; the span is the option name's.
    Given(T, Span),
    /// Written, with an invalid value (already reported): checks that depend on it are skipped.
    Invalid,
}

impl<T> Setting<T> {
    /// The given value, if any.
    #[cfg(test)]
    pub(crate) fn given(&self) -> Option<&T> {
        self.given_at().map(|(value, _)| value)
    }

    /// The given value and the span of the option's name, if given.
    pub(crate) fn given_at(&self) -> Option<(&T, Span)> {
        match self {
            Setting::Given(value, span) => Some((value, *span)),
            Setting::Default | Setting::Invalid => None,
        }
    }

    fn is_written(&self) -> bool {
        !matches!(self, Setting::Default)
    }
}

/// One entry of `claims = [...]`.
#[derive(Clone)]
pub(crate) struct ClaimEntry {
    /// The expression as written (a path, a call, or a method call).
    pub(crate) expr: Expr,
    /// The span of its first token: generated code about this entry is spanned here.
    pub(crate) span: Span,
}

/// The checked options of one `#[verify_session(…)]`.
pub(crate) struct VerifySessionArgs {
    pub(crate) required: Setting<bool>,
    pub(crate) claims: Setting<Vec<ClaimEntry>>,
    pub(crate) anti_csrf: Setting<bool>,
    pub(crate) check_database: Setting<bool>,
    pub(crate) override_claims: Setting<syn::Path>,
    pub(crate) tenant_param: Setting<syn::LitStr>,
}

impl VerifySessionArgs {
    /// Parses the attribute's arguments, reporting every mistake into `errors`.
    ///
    /// A syntax error stops parsing: the options are then all [`Setting::Invalid`], so later
    /// checks that depend on them stay quiet instead of guessing.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = VerifySessionArgs {
            required: Setting::Default,
            claims: Setting::Default,
            anti_csrf: Setting::Default,
            check_database: Setting::Default,
            override_claims: Setting::Default,
            tenant_param: Setting::Default,
        };
        let raw = match RawArgs::parse.parse2(tokens) {
            Ok(raw) => raw,
            Err(error) => {
                errors.push(error);
                args.required = Setting::Invalid;
                args.claims = Setting::Invalid;
                args.anti_csrf = Setting::Invalid;
                args.check_database = Setting::Invalid;
                args.override_claims = Setting::Invalid;
                args.tenant_param = Setting::Invalid;
                return args;
            }
        };
        for option in raw.options {
            let name = option.name.unraw().to_string();
            let key = option.name.span();
            match name.as_str() {
                REQUIRED => {
                    let value = bool_value(REQUIRED, &option, errors);
                    set(&mut args.required, value, &option, errors);
                }
                ANTI_CSRF => {
                    let value = bool_value(ANTI_CSRF, &option, errors);
                    set(&mut args.anti_csrf, value, &option, errors);
                }
                CHECK_DATABASE => {
                    let value = bool_value(CHECK_DATABASE, &option, errors);
                    set(&mut args.check_database, value, &option, errors);
                }
                CLAIMS => {
                    let value = claims_value(&option, errors);
                    set(&mut args.claims, value, &option, errors);
                }
                OVERRIDE_CLAIMS => {
                    let value = path_value(&option, errors);
                    set(&mut args.override_claims, value, &option, errors);
                }
                TENANT_PARAM => {
                    let value = str_value(&option, errors);
                    set(&mut args.tenant_param, value, &option, errors);
                }
                _ => errors.at(
                    key,
                    format!("unknown option `{name}`; expected one of {}", list(OPTIONS)),
                ),
            }
        }
        args
    }
}

/// Stores the first setting of an option; reports any later one on its name.
fn set<T>(slot: &mut Setting<T>, value: Option<T>, option: &RawOption, errors: &mut Errors) {
    if slot.is_written() {
        errors.at(
            option.name.span(),
            format!("`{}` is set more than once", option.name.unraw()),
        );
        return;
    }
    *slot = match value {
        Some(value) => Setting::Given(value, option.name.span()),
        None => Setting::Invalid,
    };
}

/// The value of a `name = true|false` option.
fn bool_value(name: &str, option: &RawOption, errors: &mut Errors) -> Option<bool> {
    let Some(value) = &option.value else {
        errors.at(
            option.name.span(),
            format!("`{name}` needs a value: `{name} = true` or `{name} = false`"),
        );
        return None;
    };
    match peel(value) {
        Expr::Lit(syn::ExprLit {
            attrs,
            lit: Lit::Bool(lit),
        }) if attrs.is_empty() => Some(lit.value),
        _ => {
            errors.spanned(value, format!("`{name}` expects `true` or `false`"));
            None
        }
    }
}

/// The value of `override_claims = path::to::function`.
fn path_value(option: &RawOption, errors: &mut Errors) -> Option<syn::Path> {
    const EXAMPLE: &str = "`override_claims = my_claims` where `fn my_claims(global: &[ValidatorRef], session: &SessionContainer) -> Vec<ValidatorRef>`";
    match option.value.as_ref().map(peel) {
        Some(Expr::Path(path)) if path.attrs.is_empty() && path.qself.is_none() => {
            Some(path.path.clone())
        }
        Some(value) => {
            errors.spanned(
                value,
                format!("`{OVERRIDE_CLAIMS}` expects a function path: {EXAMPLE}"),
            );
            None
        }
        None => {
            errors.at(
                option.name.span(),
                format!("`{OVERRIDE_CLAIMS}` needs a value: {EXAMPLE}"),
            );
            None
        }
    }
}

/// The value of `tenant_param = "name"`.
fn str_value(option: &RawOption, errors: &mut Errors) -> Option<syn::LitStr> {
    const EXAMPLE: &str = "`tenant_param = \"tenant\"` for a route such as `/t/{tenant}/items`";
    match option.value.as_ref().map(peel) {
        Some(Expr::Lit(syn::ExprLit {
            attrs,
            lit: Lit::Str(lit),
        })) if attrs.is_empty() && !lit.value().is_empty() => Some(lit.clone()),
        Some(value) => {
            errors.spanned(
                value,
                format!("`{TENANT_PARAM}` expects a path parameter name: {EXAMPLE}"),
            );
            None
        }
        None => {
            errors.at(
                option.name.span(),
                format!("`{TENANT_PARAM}` needs a value: {EXAMPLE}"),
            );
            None
        }
    }
}

/// The entries of `claims = [...]`.
fn claims_value(option: &RawOption, errors: &mut Errors) -> Option<Vec<ClaimEntry>> {
    let Some(value) = &option.value else {
        errors.at(
            option.name.span(),
            format!("`{CLAIMS}` needs a value: {CLAIMS_EXAMPLE}"),
        );
        return None;
    };
    let Expr::Array(array) = peel(value) else {
        errors.spanned(
            value,
            format!("`{CLAIMS}` expects a list: {CLAIMS_EXAMPLE}"),
        );
        return None;
    };
    let mut entries = Vec::with_capacity(array.elems.len());
    let mut valid = true;
    for expr in &array.elems {
        if is_claim_entry(expr) {
            entries.push(ClaimEntry {
                span: first_span(expr),
                expr: expr.clone(),
            });
        } else {
            valid = false;
            errors.spanned(
                expr,
                "a claim entry is a claim type (`EmailVerified`) or an expression that yields a \
                 validator (`Roles::includes(\"admin\")`)",
            );
        }
    }
    valid.then_some(entries)
}

/// A claim type or constant (a path), or a call or method call that yields a validator.
fn is_claim_entry(expr: &Expr) -> bool {
    match peel(expr) {
        Expr::Path(path) => path.attrs.is_empty(),
        Expr::Call(call) => call.attrs.is_empty(),
        Expr::MethodCall(call) => call.attrs.is_empty(),
        _ => false,
    }
}

/// Looks through invisible groups, which wrap `$value:expr` fragments passed by `macro_rules!`.
fn peel(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) if group.attrs.is_empty() => peel(&group.expr),
        other => other,
    }
}

/// The span of the first token of `tokens`.
fn first_span(tokens: &impl quote::ToTokens) -> Span {
    tokens
        .to_token_stream()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |token| token.span())
}

/// "`a`, `b`, `c`".
pub(crate) fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::{ToTokens, quote};

    fn parse(tokens: TokenStream) -> (VerifySessionArgs, Vec<String>) {
        let mut errors = Errors::new();
        let args = VerifySessionArgs::parse(tokens, &mut errors);
        let messages = match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
        };
        (args, messages)
    }

    fn claims(args: &VerifySessionArgs) -> Vec<String> {
        args.claims
            .given()
            .map(|entries| {
                entries
                    .iter()
                    .map(|entry| entry.expr.to_token_stream().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn override_and_tenant_options() {
        let (args, errors) = parse(quote!(
            override_claims = crate::policy::admins,
            tenant_param = "tenant"
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            args.override_claims
                .given()
                .unwrap()
                .to_token_stream()
                .to_string(),
            "crate :: policy :: admins"
        );
        assert_eq!(args.tenant_param.given().unwrap().value(), "tenant");
        let (_, errors) = parse(quote!(override_claims = "x", tenant_param = 5));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("expects a function path"), "{errors:?}");
        assert!(
            errors[1].contains("expects a path parameter name"),
            "{errors:?}"
        );
    }

    #[test]
    fn empty_means_defaults() {
        let (args, errors) = parse(quote!());
        assert!(errors.is_empty(), "{errors:?}");
        assert!(matches!(args.required, Setting::Default));
        assert!(matches!(args.claims, Setting::Default));
        assert!(matches!(args.anti_csrf, Setting::Default));
        assert!(matches!(args.check_database, Setting::Default));
    }

    #[test]
    fn all_options() {
        let (args, errors) = parse(quote!(
            required = false,
            claims = [
                EmailVerified::is_verified(),
                Roles::includes("admin"),
                EmailVerified
            ],
            anti_csrf = true,
            check_database = true,
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.required.given(), Some(&false));
        assert_eq!(args.anti_csrf.given(), Some(&true));
        assert_eq!(args.check_database.given(), Some(&true));
        assert_eq!(
            claims(&args),
            [
                "EmailVerified :: is_verified ()",
                "Roles :: includes (\"admin\")",
                "EmailVerified"
            ]
        );
    }

    #[test]
    fn empty_claims_and_trailing_commas() {
        let (args, errors) = parse(quote!(claims = []));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.claims.given().map(Vec::len), Some(0));

        let (args, errors) = parse(quote!(claims = [a::B, c.d(),],));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(claims(&args), ["a :: B", "c . d ()"]);
    }

    #[test]
    fn claims_accept_qualified_paths_and_turbofish() {
        let (args, errors) = parse(quote!(
            claims = [
                <T as Trait>::X,
                crate::claims::Mine,
                Custom::<u8>::new().strict()
            ]
        ));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(claims(&args).len(), 3);
    }

    #[test]
    fn invisible_groups_are_looked_through() {
        use proc_macro2::{Delimiter, Group, TokenTree};
        let wrap = |tokens: TokenStream| TokenTree::Group(Group::new(Delimiter::None, tokens));
        let value = wrap(quote!(false));
        let entry = wrap(quote!(Roles::includes("admin")));
        let (args, errors) = parse(quote!(required = #value, claims = [#entry]));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.required.given(), Some(&false));
        assert_eq!(claims(&args).len(), 1);
    }

    #[test]
    fn unknown_option_lists_the_accepted_ones() {
        let (_, errors) = parse(quote!(requird = true));
        assert_eq!(
            errors,
            [
                "unknown option `requird`; expected one of `required`, `claims`, `anti_csrf`, `check_database`, `override_claims`, `tenant_param`"
            ]
        );
        let (_, errors) = parse(quote!(type = 1));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("unknown option `type`"), "{errors:?}");
    }

    #[test]
    fn duplicate_option_is_reported_and_first_kept() {
        let (args, errors) = parse(quote!(required = false, required = true));
        assert_eq!(errors, ["`required` is set more than once"]);
        assert_eq!(args.required.given(), Some(&false));
    }

    #[test]
    fn duplicate_and_invalid_values_are_all_reported() {
        let (_, errors) = parse(quote!(claims = [1], claims = 2, check_database = "no"));
        assert_eq!(
            errors,
            [
                "a claim entry is a claim type (`EmailVerified`) or an expression that yields a validator (`Roles::includes(\"admin\")`)",
                "`claims` expects a list: `claims = [EmailVerified, Roles::includes(\"admin\")]`",
                "`claims` is set more than once",
                "`check_database` expects `true` or `false`",
            ]
        );
    }

    #[test]
    fn bool_options_reject_other_values() {
        for (tokens, name) in [
            (quote!(required = "yes"), "required"),
            (quote!(check_database = 1), "check_database"),
            (quote!(anti_csrf = maybe), "anti_csrf"),
            (quote!(required = !true), "required"),
            (quote!(required = { true }), "required"),
            (quote!(required = (true)), "required"),
        ] {
            let (args, errors) = parse(tokens);
            assert_eq!(errors, [format!("`{name}` expects `true` or `false`")]);
            let setting = match name {
                "required" => &args.required,
                "check_database" => &args.check_database,
                _ => &args.anti_csrf,
            };
            assert!(matches!(setting, Setting::Invalid));
        }
    }

    #[test]
    fn options_without_value() {
        let (args, errors) = parse(quote!(required));
        assert_eq!(
            errors,
            ["`required` needs a value: `required = true` or `required = false`"]
        );
        assert!(matches!(args.required, Setting::Invalid));

        let (_, errors) = parse(quote!(claims =, anti_csrf));
        assert_eq!(
            errors,
            [
                "`claims` needs a value: `claims = [EmailVerified, Roles::includes(\"admin\")]`",
                "`anti_csrf` needs a value: `anti_csrf = true` or `anti_csrf = false`",
            ]
        );
    }

    #[test]
    fn claims_must_be_a_list() {
        for tokens in [
            quote!(claims = EmailVerified),
            quote!(claims = Roles::includes("admin")),
            quote!(claims = [EmailVerified; 2]),
            quote!(claims = (EmailVerified, Roles)),
        ] {
            let (args, errors) = parse(tokens);
            assert_eq!(
                errors,
                ["`claims` expects a list: `claims = [EmailVerified, Roles::includes(\"admin\")]`"]
            );
            assert!(matches!(args.claims, Setting::Invalid));
        }
    }

    #[test]
    fn claim_entries_must_be_paths_or_calls() {
        for tokens in [
            quote!(claims = [42]),
            quote!(claims = ["admin"]),
            quote!(claims = [|s| true]),
            quote!(claims = [EmailVerified, a + b]),
            quote!(claims = [vec![1]]),
        ] {
            let (args, errors) = parse(tokens);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].starts_with("a claim entry is a claim type"));
            assert!(matches!(args.claims, Setting::Invalid));
        }
    }

    #[test]
    fn syntax_errors_poison_every_option() {
        for tokens in [
            quote!(required: false),
            quote!(required(false)),
            quote!("required"),
            quote!(required = true false),
            quote!(required = true; claims = []),
        ] {
            let (args, errors) = parse(tokens);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(matches!(args.required, Setting::Invalid));
            assert!(matches!(args.check_database, Setting::Invalid));
        }
        let (_, errors) = parse(quote!(required: false));
        assert_eq!(
            errors,
            ["expected `=` after `required`; options are written `name = value`"]
        );
        let (_, errors) = parse(quote!(42));
        assert_eq!(
            errors,
            [
                "expected an option name: one of `required`, `claims`, `anti_csrf`, `check_database`, `override_claims`, `tenant_param`"
            ]
        );
    }

    #[test]
    fn raw_identifiers_are_unrawed() {
        let (args, errors) = parse(quote!(r#required = false));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(args.required.given(), Some(&false));
    }

    #[test]
    fn claim_entry_span_is_its_first_token() {
        let (args, _) = parse(quote!(claims = [Roles::includes("admin")]));
        let entries = args.claims.given().cloned().unwrap_or_default();
        assert_eq!(entries.len(), 1);
        // Spans can't be compared outside a macro; at least the entry keeps its tokens.
        assert_eq!(
            entries[0].expr.to_token_stream().to_string(),
            "Roles :: includes (\"admin\")"
        );
    }
}
