//! The CDI refresh call (docs/protocol.md §9.1): rotation with theft detection and a grace window.
//!
//! A presented refresh token `rt` is looked up by its double hash:
//! * the session's current token: a child is issued (below); the rotation is committed only
//!   when the child (or an access token minted with it) is first used;
//! * a child of the current token: promoted (current ← child, session expiry renewed), then
//!   handled as the current token;
//! * any other token of the session (an older one, or a sibling child that lost): theft.
//!
//! The grace window (the deliberate improvement over the core): the first refresh of the
//! current token records its time (`child_epoch_ms`) and issues the child
//! `HMAC(server secret, rt || epoch)`; every refresh of the same token within `refresh_grace` of
//! that epoch derives the same child, so concurrent refreshes (tabs, retries) all succeed on
//! one chain. After the window a new epoch gives a new child, as the core would: whichever
//! child is used first wins, and a later use of the other is theft.
//!
//! The usual case, the current token with no window open, is first tried as one store
//! operation (`SessionStore::claim_current`), which saves PostgreSQL a round trip; whatever
//! it declines takes the general path above.

use super::mint;
use super::store::{
    ChildIssue, CurrentClaim, Promotion, RefreshTokenRecord, SessionRecord, StoreFuture,
};
use super::{Shared, core_session, millis};
use crate::core::{CoreError, CreatedSession, IssuedToken, RefreshOutcome, RefreshRequest};

/// Longer refresh tokens are not ours; rejected before hashing.
const MAX_REFRESH_TOKEN_LEN: usize = 1024;
/// How many times a refresh re-reads a session that another request changed meanwhile.
const MAX_REFRESH_ATTEMPTS: usize = 16;

impl Shared {
    /// CDI refresh.
    pub(super) async fn refresh(
        &self,
        request: RefreshRequest,
    ) -> Result<RefreshOutcome, CoreError> {
        let presented = request.refresh_token.as_str();
        if presented.is_empty() || presented.len() > MAX_REFRESH_TOKEN_LEN {
            return Ok(unauthorised("the refresh token is invalid"));
        }
        let now = self.now();
        let hash2 = mint::hash2(presented);
        // The child of a window opened now: what both paths issue unless a window is open.
        let fresh = self.child_of(presented, now, &request);
        if let Some(outcome) = self
            .refresh_current(presented, &hash2, &fresh, &request, now)
            .await?
        {
            return Ok(outcome);
        }
        for _ in 0..MAX_REFRESH_ATTEMPTS {
            let Some((token, mut session)) = self.store.refresh_token(hash2.clone()).await? else {
                return Ok(unauthorised("the refresh token is unknown"));
            };
            if !session.is_live(now) {
                return Ok(unauthorised("the session has expired"));
            }
            if request.enable_anti_csrf
                && let Some(issued) = &token.anti_csrf_token
                && request.anti_csrf_token.as_ref() != Some(issued)
            {
                return Ok(unauthorised("anti-CSRF token missing or not matching"));
            }
            if session.refresh_hash2 != hash2 {
                if token.parent_hash2.as_deref() != Some(session.refresh_hash2.as_str()) {
                    tracing::warn!(
                        session_handle = %session.handle,
                        "refresh token reuse detected"
                    );
                    return Ok(RefreshOutcome::TokenTheftDetected {
                        handle: session.handle,
                        user_id: session.user_id,
                        recipe_user_id: session.recipe_user_id,
                    });
                }
                // A child of the current token: commit the rotation first.
                let expiry_ms = now.saturating_add(self.refresh_validity_ms());
                let promoted = self
                    .store
                    .promote(Promotion {
                        handle: session.handle.clone(),
                        from_hash2: session.refresh_hash2.clone(),
                        to_hash2: hash2.clone(),
                        expiry_ms,
                        now_ms: now,
                    })
                    .await?;
                if !promoted {
                    continue;
                }
                session.refresh_hash2 = hash2.clone();
                session.expiry_ms = expiry_ms;
                session.child_epoch_ms = None;
            }
            if let Some(outcome) = self
                .issue_child(presented, &session, &fresh, &request, now)
                .await?
            {
                return Ok(outcome);
            }
        }
        Err(CoreError::Unavailable(
            "the session changed too often during the refresh; retry".into(),
        ))
    }

    /// The usual refresh in one store operation; `None` when the store declines it or the
    /// token is not in that case.
    async fn refresh_current(
        &self,
        presented: &str,
        hash2: &str,
        fresh: &Issued,
        request: &RefreshRequest,
        now: u64,
    ) -> Result<Option<RefreshOutcome>, CoreError> {
        let claimed = self
            .store
            .claim_current(CurrentClaim {
                hash2: hash2.to_owned(),
                epoch_ms: now,
                grace_ms: millis(self.options.refresh_grace),
                child_hash2: crate::util::sha256_hex(fresh.child_hash1.as_bytes()),
                child_anti_csrf_token: fresh.anti_csrf_token.clone(),
                check_anti_csrf: request.enable_anti_csrf,
                presented_anti_csrf_token: request.anti_csrf_token.clone(),
            })
            .await?;
        let Some(session) = claimed else {
            return Ok(None);
        };
        self.complete(presented, &session, request, fresh.clone(), None, now)
            .await
    }

    /// The child of `presented` for a window opened at `epoch`, and what derives from it.
    fn child_of(&self, presented: &str, epoch: u64, request: &RefreshRequest) -> Issued {
        let child = self.secret.child_refresh_token(presented, epoch);
        Issued {
            child_hash1: mint::hash1(&child),
            anti_csrf_token: request
                .enable_anti_csrf
                .then(|| self.secret.anti_csrf_token(&child)),
            child,
        }
    }

    /// Issues the child of `presented`, the session's current token; `None` if the session
    /// changed meanwhile (the caller re-reads it).
    async fn issue_child(
        &self,
        presented: &str,
        session: &SessionRecord,
        fresh: &Issued,
        request: &RefreshRequest,
        now: u64,
    ) -> Result<Option<RefreshOutcome>, CoreError> {
        let grace = millis(self.options.refresh_grace);
        let open_window = session
            .child_epoch_ms
            .filter(|&epoch| now.saturating_sub(epoch) < grace);
        let epoch = open_window.unwrap_or(now);
        let issued = match open_window {
            Some(opened) => self.child_of(presented, opened, request),
            None => fresh.clone(),
        };

        // Queue the writes, sign meanwhile, then wait for the commit.
        let stored = match open_window {
            // The window's first refresh stored the child already.
            Some(_) => None,
            None => Some(self.store.issue_child(ChildIssue {
                handle: session.handle.clone(),
                current_hash2: session.refresh_hash2.clone(),
                expected_epoch_ms: session.child_epoch_ms,
                epoch_ms: epoch,
                child: RefreshTokenRecord {
                    hash2: crate::util::sha256_hex(issued.child_hash1.as_bytes()),
                    session_handle: session.handle.clone(),
                    parent_hash2: Some(session.refresh_hash2.clone()),
                    anti_csrf_token: issued.anti_csrf_token.clone(),
                    created_ms: now,
                },
                now_ms: now,
            })),
        };
        self.complete(presented, session, request, issued, stored, now)
            .await
    }

    /// Signs the access token of a refresh that issued `issued` and answers with it, once
    /// `stored` (the child's write, if still pending) committed; `None` if it did not apply.
    async fn complete(
        &self,
        presented: &str,
        session: &SessionRecord,
        request: &RefreshRequest,
        issued: Issued,
        stored: Option<StoreFuture<bool>>,
        now: u64,
    ) -> Result<Option<RefreshOutcome>, CoreError> {
        let Issued {
            child,
            child_hash1,
            anti_csrf_token,
        } = issued;
        // Absent (older CDI versions): the key type the session was signed with, as the core.
        let dynamic = request
            .use_dynamic_signing_key
            .unwrap_or(session.use_dynamic_key);
        let key_type = (session.use_dynamic_key != dynamic).then(|| {
            self.store
                .set_key_type(session.handle.clone(), dynamic, now)
        });
        let access_token = self
            .sign_for(
                session,
                dynamic,
                request.access_token_version,
                &child_hash1,
                Some(&mint::hash1(presented)),
                anti_csrf_token.as_deref(),
                now,
            )
            .await;
        if let Some(stored) = stored
            && !stored.await?
        {
            return Ok(None);
        }
        if let Some(key_type) = key_type {
            key_type.await?;
        }
        Ok(Some(RefreshOutcome::Ok(CreatedSession {
            session: core_session(session),
            access_token: access_token?,
            refresh_token: IssuedToken {
                token: child,
                expiry_ms: now.saturating_add(self.refresh_validity_ms()),
                created_ms: now,
            },
            anti_csrf_token,
        })))
    }
}

/// The child token of a refresh, and what is derived from it.
#[derive(Clone)]
struct Issued {
    child: String,
    child_hash1: String,
    anti_csrf_token: Option<String>,
}

fn unauthorised(reason: &str) -> RefreshOutcome {
    RefreshOutcome::Unauthorised(reason.to_owned())
}
