//! Tenancy rules without IO: environments, permissions, built-in roles, emails, passwords.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::OrgId;

/// Live or sandbox. Every environment-scoped row carries one; a key only reaches its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Env {
    Live,
    Test,
}

impl Env {
    pub fn as_str(self) -> &'static str {
        match self {
            Env::Live => "live",
            Env::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Env> {
        match s {
            "live" => Some(Env::Live),
            "test" => Some(Env::Test),
            _ => None,
        }
    }
}

/// Where a request acts: one organization (the tenant) in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub org_id: OrgId,
    pub env: Env,
}

macro_rules! permissions {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// A permission an operation requires. Roles grant sets of them; API key scopes
        /// narrow a key to a subset.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Permission {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $name,)* }
            }

            pub fn parse(s: &str) -> Option<Permission> {
                match s { $($name => Some(Permission::$variant),)* _ => None }
            }
        }
    };
}

permissions! {
    OrganizationRead => "organization:read",
    OrganizationWrite => "organization:write",
    MembersRead => "members:read",
    MembersWrite => "members:write",
    RolesRead => "roles:read",
    RolesWrite => "roles:write",
    ApiKeysRead => "api_keys:read",
    ApiKeysWrite => "api_keys:write",
    AuditRead => "audit:read",
    BillingRead => "billing:read",
    BillingWrite => "billing:write",
    UsageRead => "usage:read",
    UsageWrite => "usage:write",
    WebhooksRead => "webhooks:read",
    WebhooksWrite => "webhooks:write",
    IdentityRead => "identity:read",
    IdentityWrite => "identity:write",
}

// By hand: utoipa does not see serde renames that come through a macro.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Permission {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Permission::ALL.iter().map(|p| p.as_str())))
            .description(Some("A permission an operation requires."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Permission {}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub type PermissionSet = BTreeSet<Permission>;

/// Space-separated storage form of a permission set.
pub fn encode_permissions(set: &PermissionSet) -> String {
    set.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" ")
}

pub fn decode_permissions(s: &str) -> PermissionSet {
    s.split_whitespace().filter_map(Permission::parse).collect()
}

/// The built-in roles. A member's role is one of these names or a custom role id.
pub const BUILTIN_ROLES: &[(&str, &str)] = &[
    ("owner", "Full access, including transferring ownership."),
    ("admin", "Full access except ownership changes."),
    (
        "developer",
        "API keys, usage and webhooks; read access elsewhere.",
    ),
    (
        "billing",
        "Billing and invoices; read access to the organization.",
    ),
    ("viewer", "Read-only access."),
];

/// Permissions of a built-in role, or None when `name` is not one.
pub fn builtin_permissions(name: &str) -> Option<PermissionSet> {
    use Permission::*;
    let all = || Permission::ALL.iter().copied();
    let reads = || all().filter(|p| p.as_str().ends_with(":read"));
    let set: PermissionSet = match name {
        "owner" | "admin" => all().collect(),
        "developer" => reads()
            .chain([ApiKeysWrite, UsageWrite, WebhooksWrite])
            .collect(),
        "billing" => [
            OrganizationRead,
            MembersRead,
            BillingRead,
            BillingWrite,
            UsageRead,
        ]
        .into_iter()
        .collect(),
        "viewer" => reads().collect(),
        _ => return None,
    };
    Some(set)
}

/// A normalised email address: trimmed, lower-cased, one `@`, a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Email, Error> {
        let s = raw.trim().to_lowercase();
        let valid = s.len() <= 254
            && match s.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.len() <= 64
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
                }
                None => false,
            };
        if valid {
            Ok(Email(s))
        } else {
            Err(Error::validation(field, "must be a valid email address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const PASSWORD_MIN: usize = 10;
pub const PASSWORD_MAX: usize = 256;

/// Password rules: 10 to 256 characters, not the email address itself.
pub fn check_password(password: &str, email: &Email) -> Result<(), Error> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Err(Error::validation(
            "password",
            format!("must be at least {PASSWORD_MIN} characters"),
        ));
    }
    if len > PASSWORD_MAX {
        return Err(Error::validation(
            "password",
            format!("must be at most {PASSWORD_MAX} characters"),
        ));
    }
    if password.trim().to_lowercase() == email.as_str() {
        return Err(Error::validation(
            "password",
            "must not be your email address",
        ));
    }
    Ok(())
}

/// A display name: 1 to 200 characters after trimming.
pub fn check_name(field: &str, name: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::validation(field, "must be 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        let e = Email::parse("email", "  Ada@Example.COM ").expect("valid");
        assert_eq!(e.as_str(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@.com",
        ] {
            assert!(Email::parse("email", bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn password_rules() {
        let e = Email::parse("email", "ada@example.com").expect("valid");
        assert!(check_password("short", &e).is_err());
        assert!(check_password("ada@example.com", &e).is_err());
        assert!(check_password(&"x".repeat(257), &e).is_err());
        assert!(check_password("correct horse battery", &e).is_ok());
    }

    #[test]
    fn builtin_roles_nest() {
        let viewer = builtin_permissions("viewer").expect("builtin");
        let developer = builtin_permissions("developer").expect("builtin");
        let admin = builtin_permissions("admin").expect("builtin");
        assert!(viewer.is_subset(&developer));
        assert!(developer.is_subset(&admin));
        assert!(!viewer.contains(&Permission::ApiKeysWrite));
        assert!(developer.contains(&Permission::ApiKeysWrite));
        assert!(!developer.contains(&Permission::MembersWrite));
        assert!(builtin_permissions("superuser").is_none());
        for (name, _) in BUILTIN_ROLES {
            assert!(builtin_permissions(name).is_some());
        }
    }

    #[test]
    fn permissions_round_trip() {
        let set: PermissionSet = Permission::ALL.iter().copied().collect();
        assert_eq!(decode_permissions(&encode_permissions(&set)), set);
    }
}
