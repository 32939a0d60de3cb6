//! Which account an organization's identity provider (SSO just-in-time provisioning) or
//! directory (SCIM) may speak for. An address with no account gets a new one without a
//! usable password. An existing account is linked only when it is already a member of the
//! organization (it accepted an invitation, or the organization provisioned it) or the
//! organization has verified the address's domain; otherwise one organization could attach
//! another's people to itself, then suspend them and end their sessions. Nobody may speak for
//! an address whose domain another organization has verified.

use crate::tenancy::Email;
use domain::identity::email_domain;
use domain::ids::{OrgId, UserId};
use store::identity as db;
use store::tenancy;

/// Why an organization may not link an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Another organization has verified the address's domain.
    DomainOfAnother,
    /// An account exists that is not a member, on a domain the organization has not verified.
    AccountElsewhere,
}

impl Refusal {
    /// What to tell the organization's administrator.
    pub fn explain(self, email: &Email) -> String {
        let domain = email_domain(email.as_str());
        match self {
            Refusal::DomainOfAnother => format!(
                "{} belongs to the domain {domain}, which another organization has verified",
                email.as_str()
            ),
            Refusal::AccountElsewhere => format!(
                "an account with the email address {} already exists and is not a member of this organization: verify the domain {domain}, or invite the person, before it can be linked",
                email.as_str()
            ),
        }
    }
}

/// The account `org` may link for `email`, made if there is none.
pub async fn account_for(
    tx: &mut sqlx::AnyConnection,
    org: &OrgId,
    email: &Email,
    now: i64,
) -> sqlx::Result<Result<UserId, Refusal>> {
    let verified_by = db::verified_domain(&mut *tx, email_domain(email.as_str()))
        .await?
        .map(|d| d.tenant_id);
    if verified_by.as_deref().is_some_and(|t| t != org.as_str()) {
        return Ok(Err(Refusal::DomainOfAnother));
    }
    let Some(existing) = tenancy::find_user_by_email(&mut *tx, email.as_str()).await? else {
        return tenancy::insert_provisioned_user(tx, email.as_str(), now)
            .await
            .map(Ok);
    };
    let user = UserId::from_db(existing.id);
    let member = tenancy::membership_state(tx, org, &user).await?.is_some();
    Ok(if member || verified_by.is_some() {
        Ok(user)
    } else {
        Err(Refusal::AccountElsewhere)
    })
}
