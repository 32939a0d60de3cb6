//! The database: one sqlx `Any` pool over SQLite (embedded default) or PostgreSQL.
//!
//! All SQL in the domain stores is portable (`$n` placeholders, `RETURNING`, `ON CONFLICT`,
//! BIGINT unix-millisecond timestamps, TEXT ids), so each domain has one implementation that
//! runs on both backends. Dialect differences live here and in the per-backend migrations.

pub mod analytics;
pub mod audit;
pub mod billing;
pub mod columns;
pub mod documents;
pub mod email;
pub mod idempotency;
pub mod identity;
pub mod metering;
pub mod request_log;
pub mod scim;
pub mod scoped;
pub mod stripe;
pub mod tenancy;
pub mod webhooks;

use std::fs::{File, TryLockError};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyConnection, AnyPool, Transaction};

use domain::tenancy::{Env, Scope};

/// A store failure: the database's, or a stored value a domain rule refuses to read back.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Domain(#[from] domain::Error),
}

impl Error {
    /// A column the server itself wrote that no longer reads back.
    pub fn corrupt(column: &str, e: impl std::fmt::Display) -> Self {
        domain::Error::Internal(anyhow::anyhow!("unreadable {column} column: {e}")).into()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub type Tx = Transaction<'static, sqlx::Any>;

/// A connection for reads in one scope: a transaction on PostgreSQL (row-level security needs
/// its session settings), a plain pooled connection on SQLite, where BEGIN and COMMIT would
/// be two more trips to the database thread for nothing.
pub enum ReadConn {
    Tx(Tx),
    Plain(PoolConnection<sqlx::Any>),
}

impl ReadConn {
    /// Ends the read. The transaction is dropped, not committed: sqlx queues its ROLLBACK
    /// (for a read, the same as COMMIT) and sends it with the ping that tests a connection
    /// returned to the pool, after the response, so every read saves a round trip.
    pub fn end(self) {}
}

impl Deref for ReadConn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            ReadConn::Tx(tx) => tx,
            ReadConn::Plain(c) => c,
        }
    }
}

impl DerefMut for ReadConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            ReadConn::Tx(tx) => tx,
            ReadConn::Plain(c) => c,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// On SQLite, writes go through a one-connection pool: writers queue in the pool instead of
/// sleeping in SQLite's busy handler, and readers (WAL) never wait for them. On PostgreSQL both
/// handles are the same pool.
#[derive(Clone)]
pub struct Db {
    reader: AnyPool,
    writer: AnyPool,
    backend: Backend,
    /// The SQLite database file (none in memory or on PostgreSQL).
    sqlite_file: Option<PathBuf>,
}

/// Readers refuse writes: a PostgreSQL read ends in a rollback (`ReadConn::end`), so a
/// write through a reader would be lost there, and here it fails the tests loudly instead.
const SQLITE_READER: &str =
    "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA query_only = ON;";
/// The one writer keeps 64 MiB of pages (SQLite's default is 2 MiB): ingestion touches index
/// pages all over its tables, and each miss is a read from the OS.
const SQLITE_WRITER: &str =
    "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Db {
    /// Connects, creating the SQLite file if needed. `sqlite:path` and `postgres://…` URLs.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            anyhow::bail!("unsupported database URL scheme (use sqlite:PATH or postgres://…)");
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url).context("invalid database URL")?;
        let sqlite_file = match backend {
            Backend::Sqlite => {
                let file = SqliteConnectOptions::from_str(&url)
                    .context("invalid database URL")?
                    .get_filename()
                    .to_owned();
                (file != Path::new(":memory:")).then_some(file)
            }
            Backend::Postgres => None,
        };
        let pool = |size: u32, setup: &'static str| {
            AnyPoolOptions::new()
                .max_connections(size)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            sqlx::raw_sql(setup).execute(conn).await?;
                        }
                        Ok(())
                    })
                })
                .connect_with(options.clone())
        };
        let writer = match backend {
            Backend::Sqlite => pool(1, SQLITE_WRITER).await,
            Backend::Postgres => pool(max_connections, "").await,
        }
        .context("cannot connect to the database")?;
        let reader = match backend {
            Backend::Sqlite => pool(max_connections, SQLITE_READER)
                .await
                .context("cannot open the database")?,
            Backend::Postgres => writer.clone(),
        };
        Ok(Db {
            reader,
            writer,
            backend,
            sqlite_file,
        })
    }

    /// Applies pending migrations. On PostgreSQL sqlx holds an advisory lock meanwhile, so
    /// replicas starting together migrate once.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.writer)
            .await
            .context("migrations failed")
    }

    /// On SQLite, locks the database file for this process for as long as the returned file
    /// is open (the OS lets go when the process dies), so that a second server on the same
    /// file fails to start instead of corrupting what the first keeps in memory. SQLite
    /// serves one server process; several replicas need PostgreSQL.
    pub fn lock_sqlite_file(&self) -> anyhow::Result<Option<File>> {
        let Some(path) = &self.sqlite_file else {
            return Ok(None);
        };
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        file.try_lock().map_err(|e| match e {
            TryLockError::WouldBlock => anyhow::anyhow!(
                "another NeoForge server is using {}: SQLite serves one server process \
                 (use PostgreSQL for several)",
                path.display()
            ),
            TryLockError::Error(e) => {
                anyhow::Error::new(e).context("cannot lock the database file")
            }
        })?;
        Ok(Some(file))
    }

    /// For single read statements outside a tenant (authentication lookups).
    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    /// For single write statements outside a tenant.
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction that is not inside one tenant (sign-up, accepting an invitation).
    pub async fn write(&self) -> Result<Tx, sqlx::Error> {
        self.writer.begin().await
    }

    /// A read confined to one tenant and environment.
    pub async fn read_scoped(&self, scope: &Scope) -> Result<ReadConn, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => Ok(ReadConn::Plain(self.reader.acquire().await?)),
            Backend::Postgres => Ok(ReadConn::Tx(self.scoped(&self.reader, scope).await?)),
        }
    }

    /// A write transaction confined to one tenant and environment.
    pub async fn write_scoped(&self, scope: &Scope) -> Result<Tx, sqlx::Error> {
        self.scoped(&self.writer, scope).await
    }

    /// On PostgreSQL the transaction drops to the `neoforge_tenant` role, whose row-level
    /// security policies show only this scope's rows: a query that forgot its `tenant_id`
    /// filter still cannot reach another tenant. (`set_config('role', …, true)` is
    /// `SET LOCAL ROLE`.) The settings travel with `BEGIN`, in one round trip: every scoped
    /// transaction pays it, and an entitlement check is a handful of trips in all.
    async fn scoped(&self, pool: &AnyPool, scope: &Scope) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => pool.begin().await,
            Backend::Postgres => {
                pool.begin_with(sqlx::AssertSqlSafe(format!(
                    "BEGIN; SELECT set_config('role', 'neoforge_tenant', true), \
                     set_config('neoforge.tenant_id', {}, true), \
                     set_config('neoforge.env', {}, true)",
                    literal(scope.org_id.as_str()),
                    literal(scope.env.as_str())
                )))
                .await
            }
        }
    }

    /// Moves a scoped transaction to the other environment of its tenant, for the rare
    /// organization-wide change that touches both environments' rows (suspending a member
    /// revokes their keys in each). Nothing to do on SQLite, which has no row-level security.
    pub async fn switch_env(c: &mut AnyConnection, env: Env) -> Result<(), sqlx::Error> {
        if is_postgres(c) {
            sqlx::query("SELECT set_config('neoforge.env', $1, true)")
                .bind(env.as_str())
                .execute(c)
                .await?;
        }
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map(|_| ())
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// On SQLite, checkpoints the write-ahead log and truncates it every few seconds until
    /// the database closes. SQLite's own checkpoints never rewind the log while a reader is
    /// in it, and under steady reads one always is: the log then grows without end (2.7 GB
    /// six million events into the ingest bench), and every read searches it. A `TRUNCATE`
    /// checkpoint waits (busy timeout) for the readers of old frames, then starts afresh.
    pub async fn keep_wal_short(self) {
        if self.backend != Backend::Sqlite {
            return;
        }
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        while !self.writer.is_closed() {
            every.tick().await;
            if let Err(e) = sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.writer)
                .await
            {
                tracing::warn!(error = %e, "checkpointing the write-ahead log failed");
            }
        }
    }
}

const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

/// How a claim treats a row that another transaction holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Wait for it: a request that must act on this row.
    Wait,
    /// Skip it (no row): scheduled work another replica is doing.
    Skip,
}

/// What ends a claiming `SELECT`: a row lock held until the transaction ends on PostgreSQL;
/// nothing on SQLite, which has one writer at a time anyway.
pub fn lock_clause(c: &AnyConnection, how: Claim) -> &'static str {
    match (is_postgres(c), how) {
        (false, _) => "",
        (true, Claim::Wait) => " FOR UPDATE",
        (true, Claim::Skip) => " FOR UPDATE SKIP LOCKED",
    }
}

/// A FROM item unnesting the JSON array bound as `$n` into rows `e` with one JSON column
/// `value` (read fields with `e.value->>'field'`). Bulk statements bind their rows this way:
/// one parameter, where a multi-row VALUES needs one per field, and SQLite finds a bound
/// name by a linear search, which made large statements quadratic.
pub fn json_rows(c: &AnyConnection, n: usize) -> String {
    json_elements(c, &format!("${n}"), "e")
}

/// A FROM item unnesting the JSON array `json` (a parameter or a column of an earlier FROM
/// item) into rows `alias` with one JSON column `value`.
pub fn json_elements(c: &AnyConnection, json: &str, alias: &str) -> String {
    if is_postgres(c) {
        format!("json_array_elements({json}::json) AS {alias}(value)")
    } else {
        format!("json_each({json}) AS {alias}")
    }
}

/// A PostgreSQL string literal (`standard_conforming_strings`, on since 9.1: only `'` is
/// special), for the one statement that cannot bind: the simple-query `BEGIN` above.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// True when the error is a unique-constraint violation (a lost race on insert).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Whether the connection is to PostgreSQL, for the few statements that differ.
pub fn is_postgres(c: &AnyConnection) -> bool {
    c.backend_name().eq_ignore_ascii_case("postgresql")
}

/// The most keys in one `IN` list: SQLite finds a numbered placeholder (`$7`) by a linear
/// scan of them all, so a long list costs the square of its length.
const MAX_KEYS: usize = 1_000;

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a statement with a list of `n` values is worth keeping prepared: one per list
/// length would crowd the connection's statement cache, where the one-value form, the
/// common one, belongs.
fn cacheable(n: usize) -> bool {
    n == 1
}

/// A column of a bulk insert, as read from its JSON rows: text, or a 64-bit integer.
#[derive(Debug, Clone, Copy)]
pub enum Column {
    Text(&'static str),
    Int(&'static str),
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::Text(n) | Column::Int(n) => n,
        }
    }
}

/// The names of `columns`, comma-separated, for a select list.
pub fn column_list(columns: &[Column]) -> String {
    let names: Vec<&str> = columns.iter().map(|c| c.name()).collect();
    names.join(", ")
}

/// Inserts `rows` (JSON objects keyed by column name; null for NULL) into `table` of the
/// scope with one statement, whose text does not change with their number (`json_rows`):
/// the tenant and environment come first, then `columns` in order.
pub async fn insert_rows(
    c: &mut AnyConnection,
    scope: &Scope,
    table: &str,
    columns: &[Column],
    rows: Vec<serde_json::Value>,
) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = columns
        .iter()
        .map(|column| match column {
            Column::Text(n) => format!("e.value->>'{n}'"),
            Column::Int(n) => format!("CAST(e.value->>'{n}' AS BIGINT)"),
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} (tenant_id, env, {}) SELECT $1, $2, {} FROM {}",
        column_list(columns),
        values.join(", "),
        json_rows(c, 3)
    );
    scoped::query(sqlx::AssertSqlSafe(sql), scope)
        .bind(serde_json::Value::Array(rows).to_string())
        .execute(c)
        .await
        .map(|_| ())
}

/// The rows a scoped query finds for a list of keys: `sql` filters on `$1` (tenant) and `$2`
/// (environment) and has `{keys}` where the list `$3, $4, …` goes. Runs once per
/// bind-limited chunk of `keys`.
pub async fn fetch_in<T>(
    c: &mut AnyConnection,
    scope: &Scope,
    sql: &str,
    keys: &[&str],
) -> sqlx::Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut rows = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(MAX_KEYS) {
        let sql = sql.replace("{keys}", &placeholders(3, chunk.len()));
        let query =
            scoped::query_as(sqlx::AssertSqlSafe(sql), scope).persistent(cacheable(chunk.len()));
        let query = chunk.iter().fold(query, |q, key| q.bind(*key));
        rows.extend(query.fetch_all(&mut *c).await?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::literal;

    #[test]
    fn literals_double_their_quotes() {
        assert_eq!(literal("org_1"), "'org_1'");
        assert_eq!(literal("a'; DROP TABLE t; --"), "'a''; DROP TABLE t; --'");
    }
}
