//! What a SCIM user means for NeoForge: an account (`users`) and its membership in the
//! organization. The account is linked once the resource carries an email address (its
//! primary or work email, else a userName that is one): an existing account with that email
//! is linked only where `identity::link` allows it (else the SCIM user stays unlinked, without
//! access), and an address without one gets one without a usable password. `active: false`
//! suspends the membership, revokes the member's API keys in both environments and ends their
//! sessions bound to the organization; `active: true` restores the membership, not the keys. Deleting the SCIM user removes the
//! membership.

use serde_json::Value;

use super::auth::ScimCaller;
use super::error::{ScimError, ScimResult, ScimType};
use super::resource::Obj;
use crate::identity::link;
use crate::tenancy::{Email, Env, Scope};
use domain::ids::{OrgId, UserId};
use store::Db;
use store::scim::{self as db, UserLink};
use store::tenancy;

/// The role a provisioned member gets in the organization.
const DEFAULT_ROLE: &str = "viewer";

/// The email address a SCIM user's account goes by: the primary email, a work email, the
/// first email, or the userName, whichever first is an address.
fn email_of(stored: &Obj) -> Option<Email> {
    fn value(e: &Value) -> Option<&str> {
        e.get("value").and_then(Value::as_str)
    }
    let emails: Vec<&Value> = stored
        .get("emails")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let primary = emails
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)));
    let work = emails
        .iter()
        .find(|e| e.get("type").and_then(Value::as_str) == Some("work"));
    [
        primary.and_then(|e| value(e)),
        work.and_then(|e| value(e)),
        emails.first().and_then(|e| value(e)),
        stored.get("userName").and_then(Value::as_str),
    ]
    .into_iter()
    .flatten()
    .find_map(|s| Email::parse("email", s).ok())
}

pub fn is_active(stored: &Obj) -> bool {
    stored
        .get("active")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// Brings the account and membership in line with the stored SCIM user. Returns whether the
/// access of the member's keys changed (the caller invalidates the key cache after commit).
pub async fn sync(
    tx: &mut sqlx::AnyConnection,
    caller: &ScimCaller,
    scim_id: &str,
    stored: &Obj,
    now: i64,
) -> ScimResult<bool> {
    let org = &caller.scope.org_id;
    let link = db::user_link(tx, org, scim_id).await?;
    let active = is_active(stored);
    let mut user = link.and_then(|l| l.user_id).map(UserId::from_db);
    if user.is_none()
        && let Some(email) = email_of(stored)
    {
        user = link_account(tx, org, scim_id, &email, now).await?;
    }
    db::set_user_link(
        tx,
        org,
        scim_id,
        &UserLink {
            user_id: user.as_ref().map(|u| u.to_string()),
            active: i64::from(active),
        },
    )
    .await?;
    let Some(user) = user else {
        return Ok(false);
    };
    match tenancy::membership_state(tx, org, &user).await? {
        None => {
            tenancy::insert_membership(tx, org, &user, DEFAULT_ROLE, now).await?;
            if !active {
                tenancy::set_membership_suspended(tx, org, &user, Some(now)).await?;
            }
            Ok(false)
        }
        Some((_, Some(_))) if active => {
            tenancy::set_membership_suspended(tx, org, &user, None).await?;
            Ok(true)
        }
        Some((role, None)) if !active => {
            keep_an_owner(tx, &caller.scope, &role).await?;
            tenancy::set_membership_suspended(tx, org, &user, Some(now)).await?;
            cut_off(tx, &caller.scope, &user, now).await?;
            Ok(true)
        }
        Some(_) => Ok(false),
    }
}

/// Removes the linked member from the organization (the SCIM user is being deleted).
pub async fn remove(
    tx: &mut sqlx::AnyConnection,
    caller: &ScimCaller,
    scim_id: &str,
    now: i64,
) -> ScimResult<bool> {
    let org = &caller.scope.org_id;
    let Some(user) = db::user_link(tx, org, scim_id)
        .await?
        .and_then(|l| l.user_id)
        .map(UserId::from_db)
    else {
        return Ok(false);
    };
    let Some((role, suspended)) = tenancy::membership_state(tx, org, &user).await? else {
        return Ok(false);
    };
    if suspended.is_none() {
        keep_an_owner(tx, &caller.scope, &role).await?;
    }
    tenancy::delete_member(tx, &caller.scope, &user).await?;
    cut_off(tx, &caller.scope, &user, now).await?;
    Ok(true)
}

/// The organization keeps at least one active owner, whatever its directory says.
async fn keep_an_owner(tx: &mut sqlx::AnyConnection, scope: &Scope, role: &str) -> ScimResult<()> {
    if role == "owner" && tenancy::count_owners(tx, scope).await? <= 1 {
        return Err(ScimError::new(
            axum::http::StatusCode::CONFLICT,
            "This user is the organization's last owner: make another member owner first.",
        ));
    }
    Ok(())
}

/// Revokes the member's keys in both environments and their sessions bound to the
/// organization; nothing of theirs elsewhere.
async fn cut_off(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    user: &UserId,
    now: i64,
) -> ScimResult<()> {
    for env in [Env::Live, Env::Test] {
        Db::switch_env(tx, env).await?;
        let scope = Scope {
            org_id: scope.org_id.clone(),
            env,
        };
        tenancy::revoke_user_api_keys(tx, &scope, user, now).await?;
    }
    Db::switch_env(tx, scope.env).await?;
    tenancy::revoke_user_sessions_in(tx, &scope.org_id, user, now).await?;
    Ok(())
}

/// The account the directory may link for this email (`identity::link`), linked to the
/// SCIM user; none when it may not, and the SCIM user stays unlinked, with no access, until
/// it may (each later change tries again). Answering as if linked tells the directory
/// nothing about accounts outside the organization.
async fn link_account(
    tx: &mut sqlx::AnyConnection,
    org: &OrgId,
    scim_id: &str,
    email: &Email,
    now: i64,
) -> ScimResult<Option<UserId>> {
    let linked = link::account_for(tx, org, email, now).await.map_err(|e| {
        if store::is_unique_violation(&e) {
            taken(email)
        } else {
            e.into()
        }
    })?;
    let Ok(user) = linked else {
        return Ok(None);
    };
    match db::linked_to(tx, org, user.as_str()).await? {
        Some(other) if other != scim_id => Err(taken(email)),
        _ => Ok(Some(user)),
    }
}

fn taken(email: &Email) -> ScimError {
    ScimError::bad(
        ScimType::Uniqueness,
        format!(
            "Another user of this directory has the email address {}.",
            email.as_str()
        ),
    )
}
