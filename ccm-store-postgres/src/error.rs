//! This crate's name for the SQL stores' one error type.

/// What can go wrong in the PostgreSQL store: the SQL stores' shared
/// [`ccm_store_sql::SqlStoreError`], converted into the port's `StoreError`.
pub type PostgresStoreError = ccm_store_sql::SqlStoreError;
