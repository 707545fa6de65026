//! How one route verifies sessions: [`VerifyOptions`], the options of `#[verify_session(..)]`.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::claims::{IntoValidator, ValidatorRef};
use crate::core::BoxFuture;

use super::session::SessionContainer;

/// Chooses a route's claim validators from the global ones and the session (the SDKs'
/// `overrideGlobalClaimValidators`).
pub type OverrideClaims = fn(&[ValidatorRef], &SessionContainer) -> Vec<ValidatorRef>;

/// [`OverrideClaims`] for a choice that awaits (a role store, a feature flag service): returns
/// a boxed future.
pub type OverrideClaimsAsync =
    for<'a> fn(&'a [ValidatorRef], &'a SessionContainer) -> BoxFuture<'a, Vec<ValidatorRef>>;

type ChooseNow = dyn Fn(&[ValidatorRef], &SessionContainer) -> Vec<ValidatorRef> + Send + Sync;
type ChooseLater = dyn for<'a> Fn(&'a [ValidatorRef], &'a SessionContainer) -> BoxFuture<'a, Vec<ValidatorRef>>
    + Send
    + Sync;

/// How a route chooses its validators instead of the global ones: a function wrapped by
/// [`ChooseClaims::into_override`].
#[derive(Clone)]
pub struct ClaimsOverride(Choice);

#[derive(Clone)]
enum Choice {
    Now(Arc<ChooseNow>),
    Later(Arc<ChooseLater>),
}

impl fmt::Debug for ClaimsOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Choice::Now(_) => "ClaimsOverride(immediate)",
            Choice::Later(_) => "ClaimsOverride(awaited)",
        })
    }
}

impl ClaimsOverride {
    /// The validators chosen for `session`.
    pub(crate) async fn choose(
        &self,
        global: &[ValidatorRef],
        session: &SessionContainer,
    ) -> Vec<ValidatorRef> {
        match &self.0 {
            Choice::Now(choose) => choose(global, session),
            Choice::Later(choose) => choose(global, session).await,
        }
    }
}

/// A function that can choose a route's validators: of the [`OverrideClaims`] or of the
/// [`OverrideClaimsAsync`] form. `M` tells the two forms apart; it is inferred.
pub trait ChooseClaims<M>: Send + Sync + 'static {
    /// Wraps the function for [`VerifyOptions`].
    fn into_override(self) -> ClaimsOverride;
}

/// The marker of [`ChooseClaims`] for functions that answer at once.
#[derive(Debug)]
pub enum Immediate {}

/// The marker of [`ChooseClaims`] for functions that return a future.
#[derive(Debug)]
pub enum Awaited {}

impl<F> ChooseClaims<Immediate> for F
where
    F: Fn(&[ValidatorRef], &SessionContainer) -> Vec<ValidatorRef> + Send + Sync + 'static,
{
    fn into_override(self) -> ClaimsOverride {
        ClaimsOverride(Choice::Now(Arc::new(self)))
    }
}

impl<F> ChooseClaims<Awaited> for F
where
    F: for<'a> Fn(&'a [ValidatorRef], &'a SessionContainer) -> BoxFuture<'a, Vec<ValidatorRef>>
        + Send
        + Sync
        + 'static,
{
    fn into_override(self) -> ClaimsOverride {
        ClaimsOverride(Choice::Later(Arc::new(self)))
    }
}

/// How one route verifies sessions: the options of `#[verify_session(..)]`.
///
/// Built by the macro's expansion; also usable without the macro (`get_session`, the
/// middleware's `require`).
///
/// ```
/// use sessionward::VerifyOptions;
/// use sessionward::claims::{EmailVerified, Roles};
///
/// let options = VerifyOptions::new(true)
///     .claim(EmailVerified)
///     .claim(Roles::includes("admin"))
///     .anti_csrf_check(true);
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct VerifyOptions {
    pub(crate) required: bool,
    pub(crate) anti_csrf_check: Option<bool>,
    pub(crate) check_database: bool,
    pub(crate) claims: Vec<ValidatorRef>,
    pub(crate) skip_global_claims: bool,
    pub(crate) override_claims: Option<ClaimsOverride>,
    pub(crate) tenant_param: Option<Cow<'static, str>>,
}

impl fmt::Debug for VerifyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("required", &self.required)
            .field("anti_csrf_check", &self.anti_csrf_check)
            .field("check_database", &self.check_database)
            .field("claims", &self.claims)
            .field("skip_global_claims", &self.skip_global_claims)
            .field("override_claims", &self.override_claims.is_some())
            .field("tenant_param", &self.tenant_param)
            .finish()
    }
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self::new(true)
    }
}

impl VerifyOptions {
    /// Options with `required` set and every other option at its default.
    pub fn new(required: bool) -> Self {
        Self {
            required,
            anti_csrf_check: None,
            check_database: false,
            claims: Vec::new(),
            skip_global_claims: false,
            override_claims: None,
            tenant_param: None,
        }
    }

    /// Forces the anti-CSRF check on or off (default: on for every method but GET).
    #[must_use]
    pub fn anti_csrf_check(mut self, check: bool) -> Self {
        self.anti_csrf_check = Some(check);
        self
    }

    /// Asks the core whether the session still exists on every request (default: false).
    #[must_use]
    pub fn check_database(mut self, check: bool) -> Self {
        self.check_database = check;
        self
    }

    /// Adds a claim validator checked after the global ones: a validator
    /// (`Roles::includes("admin")`) or a claim that stands for its default one
    /// (`EmailVerified`).
    #[must_use]
    pub fn claim(mut self, validator: impl IntoValidator) -> Self {
        self.claims.push(validator.into_validator());
        self
    }

    /// Checks only this route's claims, not the config's global ones (sign-out uses it).
    #[must_use]
    pub fn without_global_claims(mut self) -> Self {
        self.skip_global_claims = true;
        self
    }

    /// Replaces the global validators with what `choose` returns for the session; the
    /// route's own `claims` are still added. `choose` is a function item of the
    /// [`OverrideClaims`] form, or of the [`OverrideClaimsAsync`] form when it must await:
    ///
    /// ```
    /// use sessionward::claims::ValidatorRef;
    /// use sessionward::core::BoxFuture;
    /// use sessionward::{SessionContainer, VerifyOptions};
    ///
    /// fn without_email_check(global: &[ValidatorRef], _: &SessionContainer) -> Vec<ValidatorRef> {
    ///     global.iter().filter(|v| v.id() != "st-ev").cloned().collect()
    /// }
    ///
    /// fn per_plan<'a>(
    ///     global: &'a [ValidatorRef],
    ///     session: &'a SessionContainer,
    /// ) -> BoxFuture<'a, Vec<ValidatorRef>> {
    ///     Box::pin(async move {
    ///         // e.g. ask the billing service about session.user_id()
    ///         let _ = session;
    ///         global.to_vec()
    ///     })
    /// }
    ///
    /// let lenient = VerifyOptions::new(true).override_claims(without_email_check);
    /// let by_plan = VerifyOptions::new(true).override_claims(per_plan);
    /// # let _ = (lenient, by_plan);
    /// ```
    #[must_use]
    pub fn override_claims<M>(mut self, choose: impl ChooseClaims<M>) -> Self {
        self.override_claims = Some(choose.into_override());
        self
    }

    /// Requires the session's tenant to equal the route's path parameter `name` (e.g.
    /// `/t/{tenant}/..`); a session of another tenant gets 403 with the validator id
    /// `st-tenant`.
    #[must_use]
    pub fn tenant_param(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.tenant_param = Some(name.into());
        self
    }
}

/// The options of a plain extractor: a required or an optional session, every other option at
/// its default (built once).
pub(crate) fn extractor_options(required: bool) -> &'static VerifyOptions {
    static REQUIRED: OnceLock<VerifyOptions> = OnceLock::new();
    static OPTIONAL: OnceLock<VerifyOptions> = OnceLock::new();
    if required {
        REQUIRED.get_or_init(|| VerifyOptions::new(true))
    } else {
        OPTIONAL.get_or_init(|| VerifyOptions::new(false))
    }
}
