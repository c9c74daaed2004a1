//! [`SqliteStore`]: the [`Store`] port over one SQLite file.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{watch, Mutex};

use ccm_core::api_key::{ApiKeyId, ApiKeyRecord};
use ccm_core::event::{DomainEvent, ResourceKind, StoredEvent, Subject};
use ccm_core::ports::store::{
    ChangeSet, CommitReceipt, CompactionStep, Generations, LabletFilter, Lease, Listed,
    PageRequest, StoreError, WorkerFilter,
};
use ccm_core::time::Timestamp;

use ccm_store_sql::{Param, RowStatements};

use crate::error::SqliteStoreError;
use crate::lock::FileLock;
use crate::rows::{self, decode, doc_from_row, prepare, ts, RowWrite, SqliteDialect, Table, Value};

type Result<T, E = SqliteStoreError> = std::result::Result<T, E>;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The newest sequence ever given: the newest event's, or the one before the
/// log's first when compaction removed the newest events.
const LAST_SEQUENCE_SQL: &str = "SELECT MAX(COALESCE((SELECT MAX(sequence) FROM events), 0), \
     (SELECT first_sequence - 1 FROM event_log_bounds))";

/// Commits of at most this many writes are checked before any lock is taken
/// (one version read per write), so stale ones fail without queueing.
const PRECHECK_MAX_WRITES: usize = 4;

/// How to open a [`SqliteStore`].
#[derive(Clone, Debug)]
pub struct SqliteStoreOptions {
    /// `sqlite://path/to/ccm.db` (relative or absolute; created with its directory
    /// when missing), or `sqlite::memory:` for a private in-memory database.
    pub url: String,
    /// Most connections in the pool (readers run in parallel; one writer at a time).
    pub max_connections: u32,
    /// Longest wait for a pooled connection.
    pub acquire_timeout: Duration,
    /// Longest wait for another process's write lock before failing.
    pub busy_timeout: Duration,
    /// `synchronous=FULL` (every commit reaches the disk before it returns) instead
    /// of `NORMAL` (WAL default: a commit survives a crash of the process but the
    /// last ones may be lost on power failure).
    pub full_sync: bool,
    /// Take the one-process lock on `<file>.lock` (the default). A short command
    /// that runs beside a server on the same file (`ccm api-key create`) opens
    /// without it: SQLite serialises its writes, and it runs no engine, relay or
    /// in-process wake-up that a second long-running process would split.
    pub exclusive: bool,
}

impl SqliteStoreOptions {
    /// Defaults for `url`: 8 connections, 30 s acquire timeout, 10 s busy timeout,
    /// `synchronous=NORMAL`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(10),
            full_sync: false,
            exclusive: true,
        }
    }

    /// The same options without the one-process lock (see [`Self::exclusive`]).
    pub fn beside_a_server(mut self) -> Self {
        self.exclusive = false;
        self
    }
}

/// The store over SQLite. See the crate documentation for the invariants it keeps.
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// One writer at a time in this process, so writers queue here instead of
    /// spinning on SQLite's busy handler.
    write_lock: Mutex<()>,
    newest: watch::Sender<u64>,
    location: String,
    /// Held from open to close (or drop) of a database file: one process per file.
    file_lock: std::sync::Mutex<Option<FileLock>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

type SqliteQuery<'q> = Query<'q, Sqlite, SqliteArguments<'q>>;

fn bind(query: SqliteQuery<'_>, value: Value) -> SqliteQuery<'_> {
    match value {
        Value::Text(s) => query.bind(s),
        Value::OptText(s) => query.bind(s),
        Value::Bool(b) => query.bind(b),
    }
}

pub(crate) use ccm_store_sql::{to_i64, to_u64};

impl SqliteStore {
    /// Opens (creating when missing) the database at `url` with default options.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(SqliteStoreOptions::new(url)).await
    }

    /// Opens the database, applies the embedded migrations, and refuses a schema
    /// newer than this build ([`StoreError::SchemaTooNew`]).
    pub async fn open_with(options: SqliteStoreOptions) -> Result<Self, StoreError> {
        Ok(Self::open_inner(options).await?)
    }

    async fn open_inner(options: SqliteStoreOptions) -> Result<Self> {
        let url = options.url.trim();
        if !url.starts_with("sqlite:") {
            return Err(SqliteStoreError::InvalidUrl(format!(
                "`{url}` does not start with `sqlite:` (expected sqlite://path/to/ccm.db)"
            )));
        }
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| SqliteStoreError::InvalidUrl(format!("`{url}`: {e}")))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout)
            .synchronous(if options.full_sync {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            });
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let location = connect.get_filename().display().to_string();
        // No ping before handing a connection out: a local file's connection
        // does not go stale, and the ping is one more round trip to the
        // connection's thread on every acquire (sqlx still pings on release).
        let mut pool = SqlitePoolOptions::new()
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(false);
        let mut file_lock = None;
        let connect = if in_memory {
            // One connection that never closes: the database lives as long as it.
            pool = pool
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
            connect
        } else {
            create_parent_dir(connect.get_filename())?;
            // Before any connection: a second process stops here, before migrating.
            if options.exclusive {
                file_lock = Some(FileLock::acquire(connect.get_filename())?);
            }
            pool = pool.max_connections(options.max_connections.max(1));
            connect.journal_mode(SqliteJournalMode::Wal)
        };
        let pool = pool.connect_with(connect).await?;
        migrate(&pool).await?;
        let last: i64 = sqlx::query_scalar(LAST_SEQUENCE_SQL)
            .fetch_one(&pool)
            .await?;
        let (newest, _) = watch::channel(to_u64("sequence", "events", last)?);
        tracing::info!(location = %location, "opened SQLite store");
        Ok(Self {
            pool,
            write_lock: Mutex::new(()),
            newest,
            location,
            file_lock: std::sync::Mutex::new(file_lock),
        })
    }

    /// Closes every connection and releases the database file to other
    /// processes; later calls fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
        if let Ok(mut lock) = self.file_lock.lock() {
            lock.take();
        }
    }

    /// The database file (or in-memory name).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The highest schema (migration) version this build knows.
    pub fn supported_schema_version() -> i64 {
        MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`) after this process's other
    /// writers: the guard is held until the transaction ends.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<(
        tokio::sync::MutexGuard<'_, ()>,
        sqlx::Transaction<'static, Sqlite>,
    )> {
        let guard = self.write_lock.lock().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok((guard, tx))
    }

    /// Runs one write statement after this process's other writers.
    pub(crate) async fn write_guard(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.write_lock.lock().await
    }

    async fn get_body(&self, table: &Table, id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(&table.body_sql::<SqliteDialect>())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn get_doc<T: serde::de::DeserializeOwned>(
        &self,
        table: &Table,
        kind: &str,
        id: &str,
    ) -> Result<Option<T>> {
        self.get_body(table, id)
            .await?
            .map(|body| decode(kind, id, &body))
            .transpose()
    }

    /// One page of `table` (rows of `what`) in `order_by`, and how many rows
    /// `push_filter`'s conditions select in all, both read in one transaction
    /// (one snapshot). Two statements rather than one with `COUNT(*) OVER ()`:
    /// the window made SQLite read and sort every selected row, bodies and all,
    /// for each page (300 ms for a page of 100 over 20,000 lablets, against
    /// 1 ms for an indexed page and a count).
    async fn list_page<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        table: &str,
        order_by: &str,
        page: PageRequest,
        push_filter: impl Fn(&mut QueryBuilder<'_, Sqlite>),
    ) -> Result<Listed<T>> {
        let mut count = QueryBuilder::new("SELECT COUNT(*) FROM ");
        count.push(table).push(" WHERE 1 = 1");
        push_filter(&mut count);
        let to_usize = |total: i64| usize::try_from(total).unwrap_or(usize::MAX);
        if page.limit == 0 {
            // Only the count (the idle check asks it of every running worker):
            // one statement, no transaction.
            let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
            return Ok(Listed {
                items: Vec::new(),
                total: to_usize(total),
            });
        }
        let mut query = page_query(table, order_by, page, &push_filter);
        let mut snapshot = self.pool.begin().await?;
        let rows = query.build().fetch_all(&mut *snapshot).await?;
        let total: i64 = count.build_query_scalar().fetch_one(&mut *snapshot).await?;
        snapshot.commit().await?;
        let items = rows
            .iter()
            .map(|row| doc_from_row(row, what))
            .collect::<Result<Vec<T>>>()?;
        Ok(Listed {
            items,
            total: to_usize(total),
        })
    }

    /// The rows of a `SELECT key, COUNT(*) … GROUP BY key` query.
    async fn grouped_counts(
        &self,
        mut query: QueryBuilder<'_, Sqlite>,
    ) -> Result<Vec<(String, i64)>> {
        Ok(query.build_query_as().fetch_all(&self.pool).await?)
    }

    async fn list_docs<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        mut query: QueryBuilder<'_, Sqlite>,
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
        ccm_store_sql::precheck::<SqliteDialect, _>(&mut Statements(&mut conn), writes).await
    }

    async fn commit_inner(&self, changes: ChangeSet) -> Result<CommitReceipt> {
        let touched = changes.touched_kinds();
        // Encode everything before taking the write lock.
        let writes = changes
            .writes
            .into_iter()
            .map(prepare)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        // A fenced commit is checked under its fence first, as the port requires.
        if changes.fence.is_none() && writes.len() <= PRECHECK_MAX_WRITES {
            self.precheck(&writes).await?;
        }
        let events = changes
            .events
            .iter()
            .map(|e| {
                serde_json::to_string(e)
                    .map(|body| (e, body))
                    .map_err(|err| SqliteStoreError::Encode {
                        kind: "event".into(),
                        id: e.id.to_string(),
                        message: err.to_string(),
                    })
            })
            .collect::<Result<Vec<_>>>()?;

        let (_guard, mut tx) = self.begin_write().await?;
        if let Some(fence) = &changes.fence {
            let current: Option<i64> =
                sqlx::query_scalar("SELECT token FROM leases WHERE name = ?")
                    .bind(&fence.lease)
                    .fetch_optional(&mut *tx)
                    .await?;
            let current = current
                .map(|t| to_u64("token", &fence.lease, t))
                .transpose()?;
            Lease::check_fence(fence, current)?;
        }
        let mut receipt = CommitReceipt {
            versions: apply_all(&mut tx, writes).await?,
            sequences: Vec::new(),
        };
        move_generations(&mut tx, &touched).await?;
        if !events.is_empty() {
            let last: i64 = sqlx::query_scalar(LAST_SEQUENCE_SQL)
                .fetch_one(&mut *tx)
                .await?;
            let mut numbered = Vec::with_capacity(events.len());
            for (sequence, (event, body)) in (last.saturating_add(1)..).zip(events) {
                receipt
                    .sequences
                    .push(to_u64("sequence", "events", sequence)?);
                numbered.push((sequence, event, body));
            }
            for chunk in numbered.chunks(EVENTS_PER_INSERT) {
                insert_events(&mut tx, chunk).await?;
            }
        }
        tx.commit().await?;
        if let Some(&last) = receipt.sequences.last() {
            self.newest.send_if_modified(|newest| {
                let newer = *newest < last;
                if newer {
                    *newest = last;
                }
                newer
            });
        }
        Ok(receipt)
    }

    async fn lease_in(conn: &mut SqliteConnection, name: &str) -> Result<Option<Lease>> {
        let row = sqlx::query("SELECT holder, token, expires_at FROM leases WHERE name = ?")
            .bind(name)
            .fetch_optional(conn)
            .await?;
        row.map(|row| {
            let holder: String = row.try_get(0)?;
            let token: i64 = row.try_get(1)?;
            let expires_at: String = row.try_get(2)?;
            rows::lease_from_row(name, holder, token, &expires_at)
        })
        .transpose()
    }

    async fn put_lease(conn: &mut SqliteConnection, lease: &Lease) -> Result<()> {
        sqlx::query(
            "INSERT INTO leases (name, holder, token, expires_at) VALUES (?, ?, ?, ?) \
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

    async fn update_api_key(
        &self,
        id: ApiKeyId,
        change: impl FnOnce(&mut ApiKeyRecord),
    ) -> Result<Option<ApiKeyRecord>> {
        let id_text = id.to_string();
        let (_guard, mut tx) = self.begin_write().await?;
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM api_keys WHERE id = ?")
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
            sqlx::query("UPDATE api_keys SET body = ? WHERE id = ?")
                .bind(body)
                .bind(&id_text)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(key))
    }
}

fn create_parent_dir(file: &Path) -> Result<()> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| SqliteStoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Applies the embedded migrations after checking the stored schema is not newer.
async fn migrate(pool: &SqlitePool) -> Result<()> {
    let has_table: Option<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(pool)
    .await?;
    if has_table.is_some() {
        let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(pool)
            .await?;
        let supported = SqliteStore::supported_schema_version();
        if let Some(found) = found.filter(|found| *found > supported) {
            return Err(StoreError::SchemaTooNew { found, supported }.into());
        }
    }
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// The backend's connection as the shared writes' [`RowStatements`].
struct Statements<'c>(&'c mut SqliteConnection);

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

async fn version_in(conn: &mut SqliteConnection, table: &Table, id: &str) -> Result<Option<u64>> {
    ccm_store_sql::version_in::<SqliteDialect, _>(&mut Statements(conn), table, id).await
}

/// Every kind's generation (`Store::generations`): the one row, in one read.
async fn read_generations<'c, E: sqlx::SqliteExecutor<'c>>(executor: E) -> Result<Generations> {
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

/// Moves the generations (`Store::generations`) of the kinds a commit writes;
/// one fixed statement, so it is prepared once per connection.
async fn move_generations(tx: &mut SqliteConnection, touched: &[ResourceKind]) -> Result<()> {
    if touched.is_empty() {
        return Ok(());
    }
    let step = |kind| i64::from(touched.contains(&kind));
    sqlx::query(
        "UPDATE resource_generations SET worker = worker + ?, lab = lab + ?, \
         definition = definition + ?, lablet = lablet + ?, job = job + ?",
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

/// The conditions of `filter` on the `workers` table, labels included (read
/// from the JSON body with their key and value bound, never spliced).
fn push_worker_filter(query: &mut QueryBuilder<'_, Sqlite>, filter: &WorkerFilter) {
    if let Some(region) = &filter.region {
        query.push(" AND region = ").push_bind(region.0.clone());
    }
    if !filter.lifecycle.is_empty() {
        query.push(" AND lifecycle IN (");
        let mut list = query.separated(", ");
        for state in &filter.lifecycle {
            list.push_bind(state.as_str());
        }
        query.push(")");
    } else if !filter.include_terminated {
        query.push(" AND lifecycle <> 'terminated'");
    }
    for (key, value) in &filter.labels {
        query
            .push(" AND EXISTS (SELECT 1 FROM json_each(body, '$.meta.labels') AS label WHERE label.key = ")
            .push_bind(key.clone())
            .push(" AND label.value = ")
            .push_bind(value.clone())
            .push(")");
    }
}

/// The conditions of `filter` on the `lablets` table.
fn push_lablet_filter(query: &mut QueryBuilder<'_, Sqlite>, filter: &LabletFilter) {
    if !filter.phases.is_empty() {
        query.push(" AND phase IN (");
        let mut list = query.separated(", ");
        for phase in &filter.phases {
            list.push_bind(phase.as_str());
        }
        query.push(")");
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
        // BINARY collation: fixed-width RFC 3339 text compares as the instants do.
        query
            .push(" AND timeslot_start <= ")
            .push_bind(ts(starts_by));
    }
    if let Some(starts_from) = filter.starts_from {
        query
            .push(" AND timeslot_start >= ")
            .push_bind(ts(starts_from));
    }
}

/// Rows one multi-row update carries at most: 7 variables a worker row, well
/// under SQLite's 32,766.
const UPDATES_PER_STATEMENT: usize = 500;

/// Runs the writes in order; returns their new versions. Consecutive updates of
/// distinct rows of one table run as one statement (`update_rows`), not one each.
async fn apply_all(tx: &mut SqliteConnection, writes: Vec<RowWrite>) -> Result<Vec<u64>> {
    let mut versions = Vec::with_capacity(writes.len());
    let mut run: Vec<RowWrite> = Vec::new();
    let mut run_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    for write in writes {
        let (table, id) = write.target();
        let update = matches!(write, RowWrite::Put { expected, .. } if expected > 0);
        let joins = update
            && run.len() < UPDATES_PER_STATEMENT
            && !run_ids.contains(id)
            && run
                .first()
                .is_none_or(|first| std::ptr::eq(first.target().0, table));
        if !joins {
            versions.extend(update_rows(tx, std::mem::take(&mut run)).await?);
            run_ids.clear();
        }
        if update {
            run_ids.insert(id.to_owned());
            run.push(write);
        } else {
            versions.push(apply(tx, write).await?);
        }
    }
    versions.extend(update_rows(tx, run).await?);
    Ok(versions)
}

/// Updates of distinct rows of one table, as one `UPDATE … FROM (VALUES …)`
/// under the same version checks as [`apply`]; a row whose version moved fails
/// the whole commit with the conflict [`apply`] would report.
async fn update_rows(tx: &mut SqliteConnection, mut run: Vec<RowWrite>) -> Result<Vec<u64>> {
    if run.len() <= 1 {
        return match run.pop() {
            Some(write) => Ok(vec![apply(tx, write).await?]),
            None => Ok(Vec::new()),
        };
    }
    let table = run[0].target().0;
    let sql = rows::update_rows_sql(table, run.len());
    let mut checks = Vec::with_capacity(run.len());
    let mut query = sqlx::query(&sql);
    for write in run {
        let RowWrite::Put {
            kind,
            id,
            expected,
            values,
            body,
            ..
        } = write
        else {
            return Err(StoreError::Unavailable("a deletion in a run of updates".into()).into());
        };
        query = query.bind(id.clone());
        for value in values {
            query = bind(query, value);
        }
        query = query
            .bind(to_i64("version", expected + 1)?)
            .bind(body)
            .bind(to_i64("version", expected)?);
        checks.push((kind, id, expected));
    }
    let updated: std::collections::HashSet<String> = query
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
    // A row whose version moved was left as it was: name the first, as `apply`
    // would (the transaction is dropped, so the others are not kept either).
    if let Some((kind, id, expected)) = checks.iter().find(|(_, id, _)| !updated.contains(id)) {
        let actual = version_in(tx, table, id).await?;
        return Err(StoreError::Conflict {
            kind: *kind,
            id: id.clone(),
            expected: *expected,
            actual,
        }
        .into());
    }
    Ok(checks.iter().map(|(_, _, expected)| expected + 1).collect())
}

/// Runs one write under its version check ([`ccm_store_sql::apply`]).
async fn apply(tx: &mut SqliteConnection, write: RowWrite) -> Result<u64> {
    ccm_store_sql::apply::<SqliteDialect, _>(&mut Statements(tx), write).await
}

/// An `events` row (`sequence, body`) as the event it holds.
fn event_of_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredEvent> {
    let sequence: i64 = row.try_get(0)?;
    let body: String = row.try_get(1)?;
    let id = sequence.to_string();
    Ok(StoredEvent {
        sequence: to_u64("sequence", &id, sequence)?,
        event: decode("event", &id, &body)?,
    })
}

async fn first_sequence_in<'c, E: sqlx::SqliteExecutor<'c>>(executor: E) -> Result<u64> {
    let first: i64 = sqlx::query_scalar("SELECT first_sequence FROM event_log_bounds")
        .fetch_one(executor)
        .await?;
    to_u64("sequence", "event_log_bounds", first)
}

/// Subjects (or sequences) per `IN (…)` list, well under SQLite's parameter limit.
const IN_LIST: usize = 500;

/// Compaction's rows: snapshots read and written, steps applied in one
/// transaction (see `ccm_core::ports::store::compaction` for what they hold).
impl SqliteStore {
    async fn read_compacted_inner(&self, subjects: &[Subject]) -> Result<Vec<StoredEvent>> {
        let mut by_kind: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for subject in subjects {
            by_kind
                .entry(subject.kind.as_str())
                .or_default()
                .push(&subject.id);
        }
        let mut events = Vec::new();
        for (kind, ids) in by_kind {
            for chunk in ids.chunks(IN_LIST) {
                let mut query = QueryBuilder::<Sqlite>::new(
                    "SELECT sequence, body FROM events \
                     WHERE sequence < (SELECT first_sequence FROM event_log_bounds) \
                     AND subject_kind = ",
                );
                query.push_bind(kind).push(" AND subject_id IN (");
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                query.push(")");
                let rows = query.build().fetch_all(&self.pool).await?;
                for row in &rows {
                    events.push(event_of_row(row)?);
                }
            }
        }
        events.sort_by_key(|e| e.sequence);
        Ok(events)
    }

    async fn apply_compaction_inner(&self, step: CompactionStep) -> Result<bool> {
        let mut snapshots = Vec::with_capacity(step.snapshots.len());
        for stored in &step.snapshots {
            let body =
                serde_json::to_string(&stored.event).map_err(|e| SqliteStoreError::Encode {
                    kind: "event".into(),
                    id: stored.event.id.to_string(),
                    message: e.to_string(),
                })?;
            snapshots.push((to_i64("sequence", stored.sequence)?, &stored.event, body));
        }
        let from = to_i64("sequence", step.expected_first)?;
        let to = to_i64("sequence", step.new_first)?;
        let (_guard, mut tx) = self.begin_write().await?;
        if first_sequence_in(&mut *tx).await? != step.expected_first {
            return Ok(false);
        }
        sqlx::query("DELETE FROM events WHERE sequence >= ? AND sequence < ?")
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await?;
        for chunk in step.superseded.chunks(IN_LIST) {
            let mut query = QueryBuilder::<Sqlite>::new("DELETE FROM events WHERE sequence IN (");
            let mut list = query.separated(", ");
            for sequence in chunk {
                list.push_bind(to_i64("sequence", *sequence)?);
            }
            query.push(")");
            query.build().execute(&mut *tx).await?;
        }
        for chunk in snapshots.chunks(EVENTS_PER_INSERT) {
            insert_events(&mut tx, chunk).await?;
        }
        // Snapshots of workers and lablets deleted since they were written go too.
        sqlx::query(
            "DELETE FROM events WHERE sequence < ? AND NOT ( \
             (subject_kind = 'worker' AND subject_id IN (SELECT id FROM workers)) \
             OR (subject_kind = 'lablet' AND subject_id IN (SELECT id FROM lablets)))",
        )
        .bind(to)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE event_log_bounds SET first_sequence = ?")
            .bind(to)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Events per multi-row insert (7 parameters each, well under SQLite's limit).
const EVENTS_PER_INSERT: usize = 500;

async fn insert_events(
    tx: &mut SqliteConnection,
    events: &[(i64, &DomainEvent, String)],
) -> Result<()> {
    let mut query = QueryBuilder::<Sqlite>::new(
        "INSERT INTO events (sequence, id, type, subject_kind, subject_id, occurred_at, body) ",
    );
    query.push_values(events, |mut row, (sequence, event, body)| {
        row.push_bind(*sequence)
            .push_bind(event.id.to_string())
            .push_bind(event.type_name())
            .push_bind(event.subject.kind.as_str())
            .push_bind(event.subject.id.clone())
            .push_bind(ts(event.occurred_at))
            .push_bind(body.clone());
    });
    query.build().execute(tx).await?;
    Ok(())
}

/// The store's side of the methods [`ccm_store_sql::forward_store!`] forwards.
impl SqliteStore {
    async fn generations_inner(&self) -> Result<Generations, StoreError> {
        Ok(read_generations(&self.pool).await?)
    }

    async fn read_events_inner(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        // No sequence is past i64::MAX; a limit past it reads everything there is.
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT sequence, body FROM events WHERE sequence > ? ORDER BY sequence LIMIT ?",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(SqliteStoreError::from)?;
        Ok(rows.iter().map(event_of_row).collect::<Result<Vec<_>>>()?)
    }

    async fn last_sequence_inner(&self) -> Result<u64, StoreError> {
        let last: i64 = sqlx::query_scalar(LAST_SEQUENCE_SQL)
            .fetch_one(&self.pool)
            .await
            .map_err(SqliteStoreError::from)?;
        Ok(to_u64("sequence", "events", last)?)
    }

    async fn first_sequence_inner(&self) -> Result<u64, StoreError> {
        Ok(first_sequence_in(&self.pool).await?)
    }

    async fn try_acquire_lease_inner(
        &self,
        name: &str,
        holder: &str,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Result<Option<Lease>, StoreError> {
        let (_guard, mut tx) = self.begin_write().await?;
        let current = Self::lease_in(&mut tx, name).await?;
        let lease = Lease::next_acquire(current.as_ref(), name, holder, ttl_seconds, now);
        if let Some(lease) = &lease {
            Self::put_lease(&mut tx, lease).await?;
            tx.commit().await.map_err(SqliteStoreError::from)?;
        }
        Ok(lease)
    }

    async fn renew_lease_inner(
        &self,
        name: &str,
        holder: &str,
        token: u64,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Result<Lease, StoreError> {
        let (_guard, mut tx) = self.begin_write().await?;
        let current = Self::lease_in(&mut tx, name).await?;
        let lease = Lease::renewed(current.as_ref(), name, holder, token, ttl_seconds, now)?;
        Self::put_lease(&mut tx, &lease).await?;
        tx.commit().await.map_err(SqliteStoreError::from)?;
        Ok(lease)
    }

    async fn release_lease_inner(
        &self,
        name: &str,
        holder: &str,
        token: u64,
    ) -> Result<(), StoreError> {
        let (_guard, mut tx) = self.begin_write().await?;
        let current = Self::lease_in(&mut tx, name).await?;
        if let Some(lease) = Lease::released(current.as_ref(), holder, token) {
            Self::put_lease(&mut tx, &lease).await?;
            tx.commit().await.map_err(SqliteStoreError::from)?;
        }
        Ok(())
    }

    async fn get_lease_inner(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(SqliteStoreError::from)?;
        Ok(Self::lease_in(&mut conn, name).await?)
    }

    async fn insert_api_key_inner(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let id = key.id.to_string();
        let body = rows::api_key_body(key)?;
        let (_guard, mut tx) = self.begin_write().await?;
        let affected = sqlx::query(
            "INSERT INTO api_keys (id, key_hash, created_at, body) VALUES (?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(&key.key_hash)
        .bind(ts(key.created_at))
        .bind(body)
        .execute(&mut *tx)
        .await
        .map_err(SqliteStoreError::from)?
        .rows_affected();
        if affected != 1 {
            return Err(StoreError::AlreadyExists {
                kind: "api key".into(),
                id,
            });
        }
        tx.commit().await.map_err(SqliteStoreError::from)?;
        Ok(())
    }

    async fn find_api_key_by_hash_inner(
        &self,
        key_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row = sqlx::query("SELECT id, body FROM api_keys WHERE key_hash = ?")
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(SqliteStoreError::from)?;
        let key = row
            .map(|row| doc_from_row::<_, ApiKeyRecord>(&row, "api key"))
            .transpose()?;
        Ok(key)
    }
}

/// The rows of one page of `table` in `order_by`: id and body.
fn page_query<'a>(
    table: &str,
    order_by: &str,
    page: PageRequest,
    push_filter: &impl Fn(&mut QueryBuilder<'a, Sqlite>),
) -> QueryBuilder<'a, Sqlite> {
    let mut query = QueryBuilder::new("SELECT id, body FROM ");
    query.push(table).push(" WHERE 1 = 1");
    push_filter(&mut query);
    ccm_store_sql::rows::push_page(&mut query, order_by, page);
    query
}

ccm_store_sql::forward_store!(SqliteStore, SqliteDialect);

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_store_sql::rows::{LABLETS, WORKERS};

    /// A page of the whole table walks the index in page order (migration 6):
    /// no sort of every row, whose bodies SQLite would read to sort them.
    #[tokio::test]
    async fn unfiltered_pages_walk_their_index_instead_of_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/ccm.db", dir.path().display());
        let store = SqliteStore::open(&url).await.unwrap();
        for table in [&WORKERS, &LABLETS] {
            let order = table.page_order_sql::<SqliteDialect>();
            let page = PageRequest {
                offset: 200,
                limit: 100,
            };
            let query = page_query(table.name, &order, page, &|_| {});
            let sql = format!("EXPLAIN QUERY PLAN {}", query.sql());
            let plan: Vec<String> = sqlx::query(&sql)
                .bind(100_i64)
                .bind(200_i64)
                .fetch_all(&store.pool)
                .await
                .unwrap()
                .iter()
                .map(|row| row.get::<String, _>("detail"))
                .collect();
            let walks = format!("USING INDEX {}_page_order", table.name);
            assert!(plan.iter().any(|step| step.contains(&walks)), "{plan:?}");
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "{plan:?}"
            );
        }
        store.close().await;
    }
}
