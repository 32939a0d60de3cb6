//! Statements over one tenant's environment. Each takes the tenant as `$1` and the
//! environment as `$2`, bound here so that no statement can leave either out or swap them.

use domain::tenancy::Scope;
use sqlx::any::{Any, AnyArguments, AnyRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{FromRow, SqlSafeStr};

pub fn query<'q>(sql: impl SqlSafeStr, scope: &'q Scope) -> Query<'q, Any, AnyArguments> {
    sqlx::query(sql)
        .bind(scope.org_id.as_str())
        .bind(scope.env.as_str())
}

pub fn query_as<'q, T>(sql: impl SqlSafeStr, scope: &'q Scope) -> QueryAs<'q, Any, T, AnyArguments>
where
    T: for<'r> FromRow<'r, AnyRow>,
{
    sqlx::query_as(sql)
        .bind(scope.org_id.as_str())
        .bind(scope.env.as_str())
}

pub fn query_scalar<'q, T>(
    sql: impl SqlSafeStr,
    scope: &'q Scope,
) -> QueryScalar<'q, Any, T, AnyArguments>
where
    (T,): for<'r> FromRow<'r, AnyRow>,
{
    sqlx::query_scalar(sql)
        .bind(scope.org_id.as_str())
        .bind(scope.env.as_str())
}
