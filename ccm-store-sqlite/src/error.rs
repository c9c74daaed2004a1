//! This crate's name for the SQL stores' one error type.

/// What can go wrong in the SQLite store: the SQL stores' shared
/// [`ccm_store_sql::SqlStoreError`], converted into the port's `StoreError`.
pub type SqliteStoreError = ccm_store_sql::SqlStoreError;
