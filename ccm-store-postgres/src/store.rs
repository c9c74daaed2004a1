//! [`PostgresStore`]: the [`Store`] port over a PostgreSQL schema shared by several
//! ccm processes.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::query::Query;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use ccm_core::api_key::{ApiKeyId, ApiKeyRecord};
use ccm_core::event::{DomainEvent, ResourceKind, StoredEvent, Subject};
use ccm_core::ports::store::{
    ChangeSet, CommitReceipt, CompactionStep, Generations, LabletFilter, Lease, Listed,
    PageRequest, StoreError, WorkerFilter,
};
use ccm_core::time::Timestamp;

use ccm_store_sql::{Param, RowStatements};

use crate::error::PostgresStoreError;
use crate::rows::{
    self, decode, doc_from_row, prepare, ts, PostgresDialect, RowWrite, Table, Value,
};

type Result<T, E = PostgresStoreError> = std::result::Result<T, E>;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Commits of at most this many writes are checked before any lock is taken
/// (one version read per write), so stale ones fail without queueing.
const PRECHECK_MAX_WRITES: usize = 4;

/// The NOTIFY channel of the default (`public`) schema; other schemas use
/// `ccm_events.<schema>` so stores in different schemas do not wake each other.
pub const EVENTS_CHANNEL: &str = "ccm_events";

/// How to open a [`PostgresStore`]. `Debug` never shows the password.
#[derive(Clone)]
pub struct PostgresStoreOptions {
    url: String,
    /// Schema holding ccm's tables (created when missing); `None` uses the
    /// connection's `search_path` (normally `public`).
    pub schema: Option<String>,
    /// Most connections in the pool (one more is kept for LISTEN).
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// Longest wait for a pooled connection.
    pub acquire_timeout: Duration,
    /// Server-side `statement_timeout`; `None` leaves the server's setting.
    pub statement_timeout: Option<Duration>,
    /// Server-side `idle_in_transaction_session_timeout`: a commit whose process
    /// stalls between statements (frozen, starved, cut off) is ended by the
    /// server, so the lease row it holds `FOR KEY SHARE` does not block another
    /// process's takeover past the lease. A healthy commit never idles: it reads
    /// and checks everything before it begins. `None` leaves the server's setting.
    pub idle_in_transaction_timeout: Option<Duration>,
    /// `application_name` shown in `pg_stat_activity`.
    pub application_name: String,
}

/// The default of [`PostgresStoreOptions::idle_in_transaction_timeout`].
pub const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(10);

impl PostgresStoreOptions {
    /// Defaults for `url` (`postgres://user:password@host:port/database`): 10
    /// connections, 30 s acquire timeout, 30 s statement timeout, 10 s idle in a
    /// transaction, schema from the connection's `search_path`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: None,
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(30),
            statement_timeout: Some(Duration::from_secs(30)),
            idle_in_transaction_timeout: Some(IDLE_IN_TRANSACTION_TIMEOUT),
            application_name: "ccm".into(),
        }
    }

    /// The connection string with its password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl PostgresStoreOptions {
    /// What every connection of the store starts with: the URL checked, the
    /// application name and the session settings.
    fn connect_options(&self) -> Result<PgConnectOptions> {
        let redacted_url = self.redacted_url();
        let url = self.url.trim();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(PostgresStoreError::InvalidUrl(format!(
                "`{redacted_url}` does not start with postgres:// or postgresql://"
            )));
        }
        let mut connect = PgConnectOptions::from_str(url)
            .map_err(|e| PostgresStoreError::InvalidUrl(format!("`{redacted_url}`: {e}")))?
            .application_name(&self.application_name);
        if let Some(timeout) = self.statement_timeout {
            connect = connect.options([("statement_timeout", timeout.as_millis().to_string())]);
        }
        if let Some(timeout) = self.idle_in_transaction_timeout {
            connect = connect.options([(
                "idle_in_transaction_session_timeout",
                timeout.as_millis().to_string(),
            )]);
        }
        if let Some(schema) = &self.schema {
            if !valid_schema_name(schema) {
                return Err(PostgresStoreError::InvalidUrl(format!(
                    "schema `{schema}`: use letters, digits and `_` only"
                )));
            }
            connect = connect.options([("search_path", schema.as_str())]);
        }
        Ok(connect)
    }
}

impl fmt::Debug for PostgresStoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStoreOptions")
            .field("url", &self.redacted_url())
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field(
                "idle_in_transaction_timeout",
                &self.idle_in_transaction_timeout,
            )
            .field("application_name", &self.application_name)
            .finish()
    }
}

/// `url` with the password of its user-info and any `password=` parameter
/// replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest = scheme_end + 3;
        let authority_end = out[rest..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| rest + i);
        if let Some(at) = out[rest..authority_end].rfind('@') {
            let userinfo = &out[rest..rest + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest + colon + 1..rest + at, "***");
            }
        }
    }
    if let Some(query_start) = out.find('?') {
        let (base, query) = out.split_at(query_start + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{base}{}", redacted.join("&"));
    }
    out
}

fn valid_schema_name(schema: &str) -> bool {
    !schema.is_empty()
        && schema.len() <= 63
        && schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit())
}

fn channel_for(schema: &str) -> String {
    if schema == "public" {
        EVENTS_CHANNEL.to_owned()
    } else {
        let mut channel = format!("{EVENTS_CHANNEL}.{schema}");
        // Channel names are identifiers: at most 63 bytes (schema names are ASCII).
        channel.truncate(63);
        channel
    }
}

/// The store over PostgreSQL. See the crate documentation for its invariants.
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    listener_pool: PgPool,
    newest: Arc<watch::Sender<u64>>,
    listener: JoinHandle<()>,
    channel: String,
    schema: String,
    redacted_url: String,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.redacted_url)
            .field("schema", &self.schema)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

fn bind(query: PgQuery<'_>, value: Value) -> PgQuery<'_> {
    match value {
        Value::Text(s) => query.bind(s),
        Value::OptText(s) => query.bind(s),
        Value::Bool(b) => query.bind(b),
    }
}

pub(crate) use ccm_store_sql::{to_i64, to_u64};

fn bump(newest: &watch::Sender<u64>, sequence: u64) {
    newest.send_if_modified(|current| {
        let newer = *current < sequence;
        if newer {
            *current = sequence;
        }
        newer
    });
}

async fn read_last_sequence(pool: &PgPool) -> Result<u64> {
    let last: i64 = sqlx::query_scalar("SELECT last FROM event_counter")
        .fetch_one(pool)
        .await?;
    to_u64("sequence", "event_counter", last)
}

/// Feeds the watch from NOTIFY; after a lost connection (when notifications may
/// have been missed) it reads the newest sequence from the table.
async fn listen_loop(mut listener: PgListener, pool: PgPool, newest: Arc<watch::Sender<u64>>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => match notification.payload().parse::<u64>() {
                Ok(sequence) => bump(&newest, sequence),
                Err(_) => {
                    if let Ok(sequence) = read_last_sequence(&pool).await {
                        bump(&newest, sequence);
                    }
                }
            },
            Ok(None) => {
                tracing::warn!("PostgreSQL LISTEN connection lost and re-established");
                if let Ok(sequence) = read_last_sequence(&pool).await {
                    bump(&newest, sequence);
                }
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                tracing::warn!(%error, "PostgreSQL LISTEN failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Ok(sequence) = read_last_sequence(&pool).await {
                    bump(&newest, sequence);
                }
            }
        }
    }
}

/// How a read of a lease row locks it. Fenced commits hold the row `FOR KEY
/// SHARE` until they end: a takeover or release (`FOR UPDATE`) waits for them, a
/// renewal (`FOR NO KEY UPDATE`, moving only the expiry) does not.
#[derive(Clone, Copy)]
enum LeaseLock {
    None,
    Renewal,
    Takeover,
}

impl PostgresStore {
    /// Opens the database at `url` with default options.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(PostgresStoreOptions::new(url)).await
    }

    /// Connects, creates the schema when one is named and missing, applies the
    /// embedded migrations (refusing a schema newer than this build with
    /// [`StoreError::SchemaTooNew`]), and starts listening for other processes'
    /// commits.
    pub async fn open_with(options: PostgresStoreOptions) -> Result<Self, StoreError> {
        Ok(Self::open_inner(options).await?)
    }

    async fn open_inner(options: PostgresStoreOptions) -> Result<Self> {
        let redacted_url = options.redacted_url();
        let connect = options.connect_options()?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone())
            .await?;
        if let Some(schema) = &options.schema {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                    .bind(schema)
                    .fetch_one(&pool)
                    .await?;
            if !exists {
                sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                    .execute(&pool)
                    .await?;
            }
        }
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_optional(&pool)
            .await?
            .flatten()
            .ok_or_else(|| {
                PostgresStoreError::InvalidUrl(
                    "no current schema: the search_path names no existing schema".into(),
                )
            })?;
        migrate(&pool).await?;

        // LISTEN on a connection of its own, before reading the newest sequence,
        // so no commit falls between the two.
        let listener_pool = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        let channel = channel_for(&schema);
        let mut listener = PgListener::connect_with(&listener_pool).await?;
        listener.listen(&channel).await?;
        let newest = Arc::new(watch::channel(read_last_sequence(&pool).await?).0);
        let listener = tokio::spawn(listen_loop(listener, pool.clone(), Arc::clone(&newest)));
        tracing::info!(url = %redacted_url, schema = %schema, "opened PostgreSQL store");
        Ok(Self {
            pool,
            listener_pool,
            newest,
            listener,
            channel,
            schema,
            redacted_url,
        })
    }

    /// Stops listening and closes every connection; later calls fail with
    /// [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.listener.abort();
        self.listener_pool.close().await;
        self.pool.close().await;
    }

    /// The schema holding ccm's tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The NOTIFY channel this store's commits announce themselves on.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The highest schema (migration) version this build knows.
    pub fn supported_schema_version() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    async fn get_doc<T: serde::de::DeserializeOwned>(
        &self,
        table: &Table,
        kind: &str,
        id: &str,
    ) -> Result<Option<T>> {
        let body: Option<String> = sqlx::query_scalar(&table.body_sql::<PostgresDialect>())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        body.map(|body| decode(kind, id, &body)).transpose()
    }

    /// One page of `table` (rows of `what`) in `order_by`, and how many rows
    /// `push_filter`'s conditions select in all: one round trip, one row even
    /// past the end (the count, no record).
    async fn list_page<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        table: &str,
        order_by: &str,
        page: PageRequest,
        push_filter: impl Fn(&mut QueryBuilder<'_, Postgres>),
    ) -> Result<Listed<T>> {
        let mut query = QueryBuilder::new(
            "SELECT total.n, page.id, page.body FROM (SELECT COUNT(*) AS n FROM ",
        );
        query.push(table).push(" WHERE TRUE");
        push_filter(&mut query);
        query
            .push(") AS total LEFT JOIN LATERAL (SELECT id, body::text AS body FROM ")
            .push(table)
            .push(" WHERE TRUE");
        push_filter(&mut query);
        ccm_store_sql::rows::push_page(&mut query, order_by, page);
        query.push(") AS page ON TRUE");
        let rows = query.build().fetch_all(&self.pool).await?;
        let mut items = Vec::with_capacity(rows.len());
        let mut total = 0;
        for row in &rows {
            let n: i64 = row.try_get(0)?;
            total = usize::try_from(n).unwrap_or(usize::MAX);
            let id: Option<String> = row.try_get(1)?;
            let body: Option<String> = row.try_get(2)?;
            if let (Some(id), Some(body)) = (id, body) {
                items.push(decode(what, &id, &body)?);
            }
        }
        Ok(Listed { items, total })
    }

    /// The rows of a `SELECT key, COUNT(*) … GROUP BY key` query.
    async fn grouped_counts(
        &self,
        mut query: QueryBuilder<'_, Postgres>,
    ) -> Result<Vec<(String, i64)>> {
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn list_docs<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        mut query: QueryBuilder<'_, Postgres>,
    ) -> Result<Vec<T>> {
        let rows = query.build().fetch_all(&self.pool).await?;
        rows.iter().map(|row| doc_from_row(row, kind)).collect()
    }

    /// Fails a small commit that is already stale before any lock is taken
    /// ([`ccm_store_sql::precheck`]).
    async fn precheck(&self, writes: &[RowWrite]) -> Result<()> {
        // A commit of events alone has nothing to check: take no connection.
        if writes.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        ccm_store_sql::precheck::<PostgresDialect, _>(&mut Statements(&mut conn), writes).await
    }

    async fn commit_inner(&self, changes: ChangeSet) -> Result<CommitReceipt> {
        let touched = changes.touched_kinds();
        let writes = changes
            .writes
            .into_iter()
            .map(prepare)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        // A fenced commit is checked under its fence first, as the port requires.
        if changes.fence.is_none() && writes.len() <= PRECHECK_MAX_WRITES {
            self.precheck(&writes).await?;
        }
        let mut events = EventColumns::default();
        for event in &changes.events {
            events.push(event)?;
        }

        let mut tx = self.pool.begin().await?;
        if let Some(fence) = &changes.fence {
            // FOR KEY SHARE: a takeover (FOR UPDATE) waits until this commit is
            // done, while the holder's renewal (FOR NO KEY UPDATE) does not — a
            // commit queued behind others must not starve the lease it is fenced by.
            let current: Option<i64> =
                sqlx::query_scalar("SELECT token FROM leases WHERE name = $1 FOR KEY SHARE")
                    .bind(&fence.lease)
                    .fetch_optional(&mut *tx)
                    .await?;
            let current = current
                .map(|t| to_u64("token", &fence.lease, t))
                .transpose()?;
            Lease::check_fence(fence, current)?;
        }
        if writes.len() > 1 {
            lock_rows(&mut tx, &writes).await?;
        }
        let mut receipt = CommitReceipt {
            versions: apply_all(&mut tx, writes).await?,
            sequences: Vec::new(),
        };
        // After the records' locks and before `event_counter`'s, as every commit.
        move_generations(&mut tx, &touched).await?;
        if !events.id.is_empty() {
            let count = i64::try_from(events.id.len()).unwrap_or(i64::MAX);
            // The counter row serializes appenders until commit: gap-free, in order.
            let last: i64 =
                sqlx::query_scalar("UPDATE event_counter SET last = last + $1 RETURNING last")
                    .bind(count)
                    .fetch_one(&mut *tx)
                    .await?;
            let first = last - count + 1;
            let sequences: Vec<i64> = (first..=last).collect();
            events.insert(&mut tx, &sequences).await?;
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&self.channel)
                .bind(last.to_string())
                .execute(&mut *tx)
                .await?;
            receipt.sequences = sequences
                .into_iter()
                .map(|s| to_u64("sequence", "events", s))
                .collect::<Result<_>>()?;
        }
        tx.commit().await?;
        if let Some(&last) = receipt.sequences.last() {
            bump(&self.newest, last);
        }
        Ok(receipt)
    }

    async fn lease_in(
        conn: &mut PgConnection,
        name: &str,
        lock: LeaseLock,
    ) -> Result<Option<Lease>> {
        let sql = match lock {
            LeaseLock::Takeover => {
                "SELECT holder, token, expires_at FROM leases WHERE name = $1 FOR UPDATE"
            }
            LeaseLock::Renewal => {
                "SELECT holder, token, expires_at FROM leases WHERE name = $1 FOR NO KEY UPDATE"
            }
            LeaseLock::None => "SELECT holder, token, expires_at FROM leases WHERE name = $1",
        };
        let row = sqlx::query(sql).bind(name).fetch_optional(conn).await?;
        row.map(|row| {
            let holder: String = row.try_get(0)?;
            let token: i64 = row.try_get(1)?;
            let expires_at: String = row.try_get(2)?;
            rows::lease_from_row(name, holder, token, &expires_at)
        })
        .transpose()
    }

    async fn put_lease(conn: &mut PgConnection, lease: &Lease) -> Result<()> {
        sqlx::query(
            "INSERT INTO leases (name, holder, token, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             token = excluded.token, expires_at = excluded.expires_at",
        )
        .bind(&lease.name)
        .bind(&lease.holder)
        .bind(to_i64("token", lease.token)?)
        .bind(ts(lease.expires_at))
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn acquire_inner(
        &self,
        name: &str,
        holder: &str,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Result<Option<Lease>> {
        // A live lease of another holder is refused from an unlocked read: an
        // attempt queued for the row lock (`FOR UPDATE`) would wait for the
        // holder's fenced commits in flight and make every later one queue
        // behind it — a rival polling for the lease would stall the leader.
        let mut conn = self.pool.acquire().await?;
        let seen = Self::lease_in(&mut conn, name, LeaseLock::None)
            .await?
            .filter(|lease| lease.token > 0);
        drop(conn);
        if seen.is_some()
            && Lease::next_acquire(seen.as_ref(), name, holder, ttl_seconds, now).is_none()
        {
            return Ok(None);
        }
        let mut tx = self.pool.begin().await?;
        // Make sure a row exists to lock (token 0 = never taken; rolled back
        // unless the lease is granted).
        sqlx::query(
            "INSERT INTO leases (name, holder, token, expires_at) VALUES ($1, '', 0, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(ts(ccm_core::time::epoch()))
        .execute(&mut *tx)
        .await?;
        let current = Self::lease_in(&mut tx, name, LeaseLock::Takeover).await?;
        let current = current.filter(|lease| lease.token > 0);
        let lease = Lease::next_acquire(current.as_ref(), name, holder, ttl_seconds, now);
        if let Some(lease) = &lease {
            Self::put_lease(&mut tx, lease).await?;
            tx.commit().await?;
        }
        Ok(lease)
    }

    async fn renew_inner(
        &self,
        name: &str,
        holder: &str,
        token: u64,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Result<Lease> {
        let mut tx = self.pool.begin().await?;
        let current = Self::lease_in(&mut tx, name, LeaseLock::Renewal).await?;
        let lease = Lease::renewed(current.as_ref(), name, holder, token, ttl_seconds, now)?;
        // Only the expiry moves: holder and token stay, so fenced commits in
        // flight stay valid and need not finish first.
        sqlx::query("UPDATE leases SET expires_at = $1 WHERE name = $2")
            .bind(ts(lease.expires_at))
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(lease)
    }

    async fn release_inner(&self, name: &str, holder: &str, token: u64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let current = Self::lease_in(&mut tx, name, LeaseLock::Takeover).await?;
        if let Some(lease) = Lease::released(current.as_ref(), holder, token) {
            Self::put_lease(&mut tx, &lease).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    async fn update_api_key(
        &self,
        id: ApiKeyId,
        change: impl FnOnce(&mut ApiKeyRecord),
    ) -> Result<Option<ApiKeyRecord>> {
        let id_text = id.to_string();
        let mut tx = self.pool.begin().await?;
        let body: Option<String> =
            sqlx::query_scalar("SELECT body::text FROM api_keys WHERE id = $1 FOR UPDATE")
                .bind(&id_text)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(body) = body else {
            return Ok(None);
        };
        let mut key: ApiKeyRecord = decode("api key", &id_text, &body)?;
        let before = key.clone();
        change(&mut key);
        if key != before {
            let body = rows::api_key_body(&key)?;
            sqlx::query("UPDATE api_keys SET body = CAST($1 AS jsonb) WHERE id = $2")
                .bind(body)
                .bind(&id_text)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(key))
    }

    async fn insert_api_key_inner(&self, key: &ApiKeyRecord) -> Result<()> {
        let id = key.id.to_string();
        let body = rows::api_key_body(key)?;
        let affected = sqlx::query(
            "INSERT INTO api_keys (id, key_hash, created_at, body) \
             VALUES ($1, $2, $3, CAST($4 AS jsonb)) ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(&key.key_hash)
        .bind(ts(key.created_at))
        .bind(body)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if affected != 1 {
            return Err(StoreError::AlreadyExists {
                kind: "api key".into(),
                id,
            }
            .into());
        }
        Ok(())
    }

    async fn read_events_inner(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>> {
        // No sequence is past i64::MAX; a limit past it reads everything there is.
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT sequence, body::text FROM events WHERE sequence > $1 ORDER BY sequence LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_of_row).collect()
    }
}

/// Event columns for one multi-row insert.
#[derive(Default)]
struct EventColumns {
    id: Vec<String>,
    kind: Vec<String>,
    subject_kind: Vec<String>,
    subject_id: Vec<String>,
    occurred_at: Vec<String>,
    body: Vec<String>,
}

impl EventColumns {
    fn push(&mut self, event: &DomainEvent) -> Result<()> {
        let body = serde_json::to_string(event).map_err(|e| PostgresStoreError::Encode {
            kind: "event".into(),
            id: event.id.to_string(),
            message: e.to_string(),
        })?;
        self.id.push(event.id.to_string());
        self.kind.push(event.type_name().to_owned());
        self.subject_kind
            .push(event.subject.kind.as_str().to_owned());
        self.subject_id.push(event.subject.id.clone());
        self.occurred_at.push(ts(event.occurred_at));
        self.body.push(body);
        Ok(())
    }

    /// Inserts the events at `sequences` (one per event, in order).
    async fn insert(&self, tx: &mut PgConnection, sequences: &[i64]) -> Result<()> {
        sqlx::query(
            "INSERT INTO events (sequence, id, type, subject_kind, subject_id, occurred_at, body) \
             SELECT s, i, t, k, si, o, CAST(b AS jsonb) FROM UNNEST($1::bigint[], $2::text[], \
             $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS e(s, i, t, k, si, o, b)",
        )
        .bind(sequences)
        .bind(&self.id)
        .bind(&self.kind)
        .bind(&self.subject_kind)
        .bind(&self.subject_id)
        .bind(&self.occurred_at)
        .bind(&self.body)
        .execute(tx)
        .await?;
        Ok(())
    }
}

/// An `events` row (`sequence, body`) as the event it holds.
fn event_of_row(row: &sqlx::postgres::PgRow) -> Result<StoredEvent> {
    let sequence: i64 = row.try_get(0)?;
    let body: String = row.try_get(1)?;
    let id = sequence.to_string();
    Ok(StoredEvent {
        sequence: to_u64("sequence", &id, sequence)?,
        event: decode("event", &id, &body)?,
    })
}

async fn first_sequence_in<'c, E: sqlx::PgExecutor<'c>>(executor: E, lock: bool) -> Result<u64> {
    let sql = if lock {
        "SELECT first_sequence FROM event_log_bounds FOR UPDATE"
    } else {
        "SELECT first_sequence FROM event_log_bounds"
    };
    let first: i64 = sqlx::query_scalar(sql).fetch_one(executor).await?;
    to_u64("sequence", "event_log_bounds", first)
}

/// Compaction's rows: snapshots read and written, steps applied in one
/// transaction (see `ccm_core::ports::store::compaction` for what they hold).
impl PostgresStore {
    async fn read_compacted_inner(&self, subjects: &[Subject]) -> Result<Vec<StoredEvent>> {
        let mut by_kind: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for subject in subjects {
            by_kind
                .entry(subject.kind.as_str())
                .or_default()
                .push(subject.id.clone());
        }
        let mut events = Vec::new();
        for (kind, ids) in by_kind {
            let rows = sqlx::query(
                "SELECT sequence, body::text FROM events \
                 WHERE sequence < (SELECT first_sequence FROM event_log_bounds) \
                 AND subject_kind = $1 AND subject_id = ANY($2)",
            )
            .bind(kind)
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
            for row in &rows {
                events.push(event_of_row(row)?);
            }
        }
        events.sort_by_key(|e| e.sequence);
        Ok(events)
    }

    async fn apply_compaction_inner(&self, step: CompactionStep) -> Result<bool> {
        let mut snapshots = EventColumns::default();
        let mut sequences = Vec::with_capacity(step.snapshots.len());
        for stored in &step.snapshots {
            snapshots.push(&stored.event)?;
            sequences.push(to_i64("sequence", stored.sequence)?);
        }
        let superseded = step
            .superseded
            .iter()
            .map(|s| to_i64("sequence", *s))
            .collect::<Result<Vec<_>>>()?;
        let from = to_i64("sequence", step.expected_first)?;
        let to = to_i64("sequence", step.new_first)?;
        let mut tx = self.pool.begin().await?;
        // Held to the end: two compactions never interleave; appenders never wait.
        if first_sequence_in(&mut *tx, true).await? != step.expected_first {
            return Ok(false);
        }
        sqlx::query("DELETE FROM events WHERE sequence >= $1 AND sequence < $2")
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM events WHERE sequence = ANY($1)")
            .bind(&superseded)
            .execute(&mut *tx)
            .await?;
        if !sequences.is_empty() {
            snapshots.insert(&mut tx, &sequences).await?;
        }
        // Snapshots of workers and lablets deleted since they were written go too.
        sqlx::query(
            "DELETE FROM events e WHERE e.sequence < $1 AND NOT ( \
             (e.subject_kind = 'worker' AND EXISTS (SELECT 1 FROM workers w WHERE w.id = e.subject_id)) \
             OR (e.subject_kind = 'lablet' AND EXISTS (SELECT 1 FROM lablets l WHERE l.id = e.subject_id)))",
        )
        .bind(to)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE event_log_bounds SET first_sequence = $1")
            .bind(to)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Applies the embedded migrations after checking the stored schema is not newer.
async fn migrate(pool: &PgPool) -> Result<()> {
    let has_table: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if has_table {
        let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(pool)
            .await?;
        let supported = PostgresStore::supported_schema_version();
        if let Some(found) = found.filter(|found| *found > supported) {
            return Err(StoreError::SchemaTooNew { found, supported }.into());
        }
    }
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Locks the existing rows a batch writes, table by table in key order, so two
/// batches touching the same rows queue instead of deadlocking.
async fn lock_rows(tx: &mut PgConnection, writes: &[RowWrite]) -> Result<()> {
    let mut by_table: Vec<(&'static Table, Vec<String>)> = Vec::new();
    for write in writes {
        let (table, id) = write.target();
        match by_table.iter_mut().find(|(t, _)| t.name == table.name) {
            Some((_, ids)) => ids.push(id.to_owned()),
            None => by_table.push((table, vec![id.to_owned()])),
        }
    }
    by_table.sort_by_key(|(table, _)| table.name);
    for (table, mut ids) in by_table {
        ids.sort();
        ids.dedup();
        sqlx::query(&rows::lock_sql(table))
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Runs of at least this many puts of one table (all inserts or all updates, keys
/// distinct) are written by one statement each.
const BULK_MIN: usize = 8;
/// Largest run written by one statement.
const BULK_MAX: usize = 1000;

/// Applies the writes in order, consecutive puts of one table in bulk; returns
/// the new versions (0 for deletions).
/// The conditions of `filter` on the `workers` table; labels are read from the
/// JSON body with their key and value bound.
fn push_worker_filter(query: &mut QueryBuilder<'_, Postgres>, filter: &WorkerFilter) {
    if let Some(region) = &filter.region {
        query.push(" AND region = ").push_bind(region.0.clone());
    }
    if !filter.lifecycle.is_empty() {
        let states: Vec<String> = filter
            .lifecycle
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        query
            .push(" AND lifecycle = ANY(")
            .push_bind(states)
            .push(")");
    } else if !filter.include_terminated {
        query.push(" AND lifecycle <> 'terminated'");
    }
    for (key, value) in &filter.labels {
        query
            .push(" AND body->'meta'->'labels'->>")
            .push_bind(key.clone())
            .push(" = ")
            .push_bind(value.clone());
    }
}

/// The conditions of `filter` on the `lablets` table.
fn push_lablet_filter(query: &mut QueryBuilder<'_, Postgres>, filter: &LabletFilter) {
    if !filter.phases.is_empty() {
        let phases: Vec<String> = filter
            .phases
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        query.push(" AND phase = ANY(").push_bind(phases).push(")");
    }
    if let Some(worker) = filter.worker_id {
        query
            .push(" AND worker_id = ")
            .push_bind(worker.to_string());
    }
    if let Some(owner) = &filter.owner {
        query.push(" AND owner = ").push_bind(owner.clone());
    }
    if let Some(definition) = filter.definition_id {
        query
            .push(" AND definition_id = ")
            .push_bind(definition.to_string());
    }
    if let Some(starts_by) = filter.starts_by {
        // Byte order: fixed-width RFC 3339 text compares as the instants do.
        query
            .push(r#" AND timeslot_start COLLATE "C" <= "#)
            .push_bind(ts(starts_by));
    }
    if let Some(starts_from) = filter.starts_from {
        query
            .push(r#" AND timeslot_start COLLATE "C" >= "#)
            .push_bind(ts(starts_from));
    }
}

/// Every kind's generation (`Store::generations`): the one row, in one read.
async fn read_generations<'c, E: sqlx::PgExecutor<'c>>(executor: E) -> Result<Generations> {
    let (worker, lab, definition, lablet, job): (i64, i64, i64, i64, i64) =
        sqlx::query_as("SELECT worker, lab, definition, lablet, job FROM resource_generations")
            .fetch_one(executor)
            .await?;
    let read = |kind: &str, value| to_u64("generation", kind, value);
    Ok(Generations {
        worker: read("worker", worker)?,
        lab: read("lab", lab)?,
        definition: read("definition", definition)?,
        lablet: read("lablet", lablet)?,
        job: read("job", job)?,
    })
}

/// Moves the generations (`Store::generations`) of the kinds a commit writes:
/// one row, one fixed (prepared) statement.
async fn move_generations(tx: &mut PgConnection, touched: &[ResourceKind]) -> Result<()> {
    if touched.is_empty() {
        return Ok(());
    }
    let step = |kind| i64::from(touched.contains(&kind));
    sqlx::query(
        "UPDATE resource_generations SET worker = worker + $1, lab = lab + $2, \
         definition = definition + $3, lablet = lablet + $4, job = job + $5",
    )
    .bind(step(ResourceKind::Worker))
    .bind(step(ResourceKind::Lab))
    .bind(step(ResourceKind::Definition))
    .bind(step(ResourceKind::Lablet))
    .bind(step(ResourceKind::Job))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn apply_all(tx: &mut PgConnection, writes: Vec<RowWrite>) -> Result<Vec<u64>> {
    let mut versions = Vec::with_capacity(writes.len());
    let mut run: Vec<RowWrite> = Vec::new();
    let mut keys: HashSet<String> = HashSet::new();
    for write in writes {
        let joins = match (run.first(), &write) {
            (
                Some(RowWrite::Put {
                    table, expected, ..
                }),
                RowWrite::Put {
                    table: next_table,
                    expected: next_expected,
                    id,
                    ..
                },
            ) => {
                table.name == next_table.name
                    && (*expected == 0) == (*next_expected == 0)
                    && run.len() < BULK_MAX
                    && !keys.contains(id)
            }
            _ => false,
        };
        if !joins {
            flush_run(tx, std::mem::take(&mut run), &mut versions).await?;
            keys.clear();
        }
        keys.insert(write.target().1.to_owned());
        run.push(write);
    }
    flush_run(tx, run, &mut versions).await?;
    Ok(versions)
}

async fn flush_run(
    tx: &mut PgConnection,
    run: Vec<RowWrite>,
    versions: &mut Vec<u64>,
) -> Result<()> {
    if run.len() >= BULK_MIN {
        versions.extend(bulk_put(tx, run).await?);
    } else {
        for write in run {
            versions.push(apply(tx, write).await?);
        }
    }
    Ok(())
}

/// One column of a bulk write, as a typed array.
enum ColumnArray {
    Text(Vec<Option<String>>),
    Bool(Vec<bool>),
}

impl ColumnArray {
    fn for_value(value: &Value) -> Self {
        match value {
            Value::Text(_) | Value::OptText(_) => ColumnArray::Text(Vec::new()),
            Value::Bool(_) => ColumnArray::Bool(Vec::new()),
        }
    }

    fn sql_type(&self) -> &'static str {
        match self {
            ColumnArray::Text(_) => "text[]",
            ColumnArray::Bool(_) => "boolean[]",
        }
    }

    fn push(&mut self, value: Value) -> Result<()> {
        match (self, value) {
            (ColumnArray::Text(values), Value::Text(s)) => values.push(Some(s)),
            (ColumnArray::Text(values), Value::OptText(s)) => values.push(s),
            (ColumnArray::Bool(values), Value::Bool(b)) => values.push(b),
            _ => {
                return Err(PostgresStoreError::Encode {
                    kind: "bulk write".into(),
                    id: String::new(),
                    message: "column types differ between rows".into(),
                })
            }
        }
        Ok(())
    }

    fn bind<'q>(self, query: PgQueryScalar<'q>) -> PgQueryScalar<'q> {
        match self {
            ColumnArray::Text(values) => query.bind(values),
            ColumnArray::Bool(values) => query.bind(values),
        }
    }
}

type PgQueryScalar<'q> = sqlx::query::QueryScalar<'q, Postgres, String, PgArguments>;

/// Writes a run of puts of one table (all inserts or all updates, distinct keys)
/// with one statement; the first write whose version check fails is reported.
async fn bulk_put(tx: &mut PgConnection, run: Vec<RowWrite>) -> Result<Vec<u64>> {
    let mut table: Option<&'static Table> = None;
    let mut targets: Vec<(ResourceKind, String, u64)> = Vec::with_capacity(run.len());
    let mut keys = Vec::with_capacity(run.len());
    let mut expected_versions = Vec::with_capacity(run.len());
    let mut bodies = Vec::with_capacity(run.len());
    let mut columns: Vec<ColumnArray> = Vec::new();
    for write in run {
        let RowWrite::Put {
            table: write_table,
            kind,
            id,
            expected,
            values,
            body,
        } = write
        else {
            continue;
        };
        table = Some(write_table);
        if columns.is_empty() {
            columns = values.iter().map(ColumnArray::for_value).collect();
        }
        for (column, value) in columns.iter_mut().zip(values) {
            column.push(value)?;
        }
        keys.push(id.clone());
        expected_versions.push(to_i64("version", expected)?);
        bodies.push(body);
        targets.push((kind, id, expected));
    }
    let Some(table) = table else {
        return Ok(Vec::new());
    };
    let insert = targets
        .first()
        .is_some_and(|(_, _, expected)| *expected == 0);
    let names: Vec<String> = (1..=columns.len()).map(|i| format!("c{i}")).collect();
    let types: Vec<&str> = columns.iter().map(ColumnArray::sql_type).collect();
    let sql = if insert {
        // $1 keys, $2.. columns, last bodies.
        let arrays: String = types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::{t}, ", i + 2))
            .collect();
        let selected: String = names.iter().map(|n| format!("v.{n}, ")).collect();
        format!(
            "INSERT INTO {t} ({key}, {cols}, version, body) \
             SELECT v.key, {selected}1, CAST(v.body AS jsonb) \
             FROM UNNEST($1::text[], {arrays}${body}::text[]) AS v(key, {names}, body) \
             ON CONFLICT ({key}) DO NOTHING RETURNING {key}",
            t = table.name,
            key = table.key,
            cols = table.columns.join(", "),
            names = names.join(", "),
            body = columns.len() + 2,
        )
    } else {
        // $1 keys, $2 expected versions, $3.. columns, last bodies.
        let arrays: String = types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::{t}, ", i + 3))
            .collect();
        let sets: String = table
            .columns
            .iter()
            .zip(&names)
            .map(|(c, n)| format!("{c} = v.{n}, "))
            .collect();
        format!(
            "UPDATE {t} AS t SET {sets}version = v.expected + 1, body = CAST(v.body AS jsonb) \
             FROM UNNEST($1::text[], $2::bigint[], {arrays}${body}::text[]) \
             AS v(key, expected, {names}, body) \
             WHERE t.{key} = v.key AND t.version = v.expected RETURNING t.{key}",
            t = table.name,
            key = table.key,
            names = names.join(", "),
            body = columns.len() + 3,
        )
    };
    let mut query = sqlx::query_scalar::<_, String>(&sql).bind(keys);
    if !insert {
        query = query.bind(expected_versions);
    }
    for column in columns {
        query = column.bind(query);
    }
    let written: HashSet<String> = query
        .bind(bodies)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    if let Some((kind, id, expected)) = targets.iter().find(|(_, id, _)| !written.contains(id)) {
        let actual = version_in(tx, table, id).await?;
        return Err(StoreError::Conflict {
            kind: *kind,
            id: id.clone(),
            expected: *expected,
            actual,
        }
        .into());
    }
    Ok(targets
        .iter()
        .map(|(_, _, expected)| expected + 1)
        .collect())
}

/// The backend's connection as the shared writes' [`RowStatements`].
struct Statements<'c>(&'c mut PgConnection);

impl RowStatements for Statements<'_> {
    async fn execute(&mut self, sql: &str, params: Vec<Param>) -> Result<u64> {
        let mut query = sqlx::query(sql);
        for param in params {
            query = match param {
                Param::Value(value) => bind(query, value),
                Param::Int(int) => query.bind(int),
            };
        }
        Ok(query.execute(&mut *self.0).await?.rows_affected())
    }

    async fn fetch_int(&mut self, sql: &str, key: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(sql)
            .bind(key)
            .fetch_optional(&mut *self.0)
            .await?)
    }
}

async fn version_in(conn: &mut PgConnection, table: &Table, id: &str) -> Result<Option<u64>> {
    ccm_store_sql::version_in::<PostgresDialect, _>(&mut Statements(conn), table, id).await
}

/// Runs one write under its version check ([`ccm_store_sql::apply`]).
async fn apply(tx: &mut PgConnection, write: RowWrite) -> Result<u64> {
    ccm_store_sql::apply::<PostgresDialect, _>(&mut Statements(tx), write).await
}

/// The store's side of the methods [`ccm_store_sql::forward_store!`] forwards.
impl PostgresStore {
    async fn generations_inner(&self) -> Result<Generations, StoreError> {
        Ok(read_generations(&self.pool).await?)
    }

    async fn last_sequence_inner(&self) -> Result<u64, StoreError> {
        Ok(read_last_sequence(&self.pool).await?)
    }

    async fn first_sequence_inner(&self) -> Result<u64, StoreError> {
        Ok(first_sequence_in(&self.pool, false).await?)
    }

    async fn try_acquire_lease_inner(
        &self,
        name: &str,
        holder: &str,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Result<Option<Lease>, StoreError> {
        Ok(self.acquire_inner(name, holder, ttl_seconds, now).await?)
    }

    async fn renew_lease_inner(
        &self,
        name: &str,
        holder: &str,
        token: u64,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Result<Lease, StoreError> {
        Ok(self
            .renew_inner(name, holder, token, ttl_seconds, now)
            .await?)
    }

    async fn release_lease_inner(
        &self,
        name: &str,
        holder: &str,
        token: u64,
    ) -> Result<(), StoreError> {
        Ok(self.release_inner(name, holder, token).await?)
    }

    async fn get_lease_inner(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(PostgresStoreError::from)?;
        Ok(Self::lease_in(&mut conn, name, LeaseLock::None)
            .await?
            .filter(|lease| lease.token > 0))
    }

    async fn find_api_key_by_hash_inner(
        &self,
        key_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query("SELECT id, body::text FROM api_keys WHERE key_hash = $1")
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(PostgresStoreError::from)?;
        let key = row
            .map(|row| doc_from_row::<_, ApiKeyRecord>(&row, "api key"))
            .transpose()?;
        Ok(key)
    }
}

ccm_store_sql::forward_store!(PostgresStore, PostgresDialect);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connection_ends_a_commit_its_process_stalls_in() {
        let mut options = PostgresStoreOptions::new("postgres://ccm@db/ccm");
        options.schema = Some("fleet".into());
        let connect = options.connect_options().unwrap_or_else(|e| panic!("{e}"));
        let startup = connect.get_options().unwrap_or_default();
        for setting in [
            "statement_timeout=30000",
            "idle_in_transaction_session_timeout=10000",
            "search_path=fleet",
        ] {
            assert!(startup.contains(setting), "{setting} in {startup}");
        }
        options.idle_in_transaction_timeout = None;
        let connect = options.connect_options().unwrap_or_else(|e| panic!("{e}"));
        assert!(!connect
            .get_options()
            .unwrap_or_default()
            .contains("idle_in_transaction"));
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://ccm:s3cret@db:5432/ccm"),
            "postgres://ccm:***@db:5432/ccm"
        );
        assert_eq!(
            redact_url("postgres://ccm@db/ccm?sslmode=disable&password=s3cret"),
            "postgres://ccm@db/ccm?sslmode=disable&password=***"
        );
        assert_eq!(
            redact_url("postgresql://u:p%40ss@h/d"),
            "postgresql://u:***@h/d"
        );
        assert_eq!(redact_url("postgres://h/d"), "postgres://h/d");
        let options = PostgresStoreOptions::new("postgres://ccm:s3cret@db/ccm");
        let debug = format!("{options:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
    }

    #[test]
    fn schema_names_and_channels() {
        assert!(valid_schema_name("ccm_test_0123abcd"));
        assert!(!valid_schema_name("bad;drop"));
        assert!(!valid_schema_name("1abc"));
        assert!(!valid_schema_name(""));
        assert_eq!(channel_for("public"), "ccm_events");
        assert_eq!(channel_for("ccm_test_1"), "ccm_events.ccm_test_1");
        assert_eq!(channel_for(&"s".repeat(63)).len(), 63);
    }
}
