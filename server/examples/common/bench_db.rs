//! A fresh database for a benchmark run, shared by the benchmarks.

use std::pin::Pin;

/// A fresh database (`sqlite`: a temporary file; a `postgres://` URL: a new database on that
/// server), and what removes it afterwards.
pub async fn fresh(target: &str) -> anyhow::Result<(String, Pin<Box<dyn Future<Output = ()>>>)> {
    let name = format!("nf_bench_{}", uuid::Uuid::now_v7().simple());
    if target == "sqlite" {
        let file = std::env::temp_dir().join(format!("{name}.db"));
        let url = format!("sqlite:{}", file.display());
        return Ok((
            url,
            Box::pin(async move {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
            }),
        ));
    }
    sqlx::any::install_default_drivers();
    let admin = target.to_owned();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    Ok((
        url,
        Box::pin(async move {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                .execute(&mut conn)
                .await;
        }),
    ))
}
