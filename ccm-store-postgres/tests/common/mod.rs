//! A PostgreSQL schema of its own for each test, dropped afterwards, so tests run
//! in parallel against the one server (`CCM_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`).
#![allow(dead_code)]

use async_trait::async_trait;
use ccm_core::testing::store::StoreFactory;
use ccm_store_postgres::{PostgresStore, PostgresStoreOptions};

/// The test server.
pub fn database_url() -> String {
    std::env::var("CCM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh schema `ccm_test_<random>`; stores opened from it share it.
pub struct PgFactory {
    pub url: String,
    pub schema: String,
}

impl PgFactory {
    pub async fn new() -> Self {
        Self {
            url: database_url(),
            schema: format!("ccm_test_{}", uuid::Uuid::new_v4().simple()),
        }
    }

    pub fn options(&self) -> PostgresStoreOptions {
        let mut options = PostgresStoreOptions::new(&self.url);
        options.schema = Some(self.schema.clone());
        options.max_connections = 8;
        options
    }

    /// A raw connection pool on the test database (not in the schema).
    pub async fn admin(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.url)
            .await
            .expect("connect to the test PostgreSQL (is it running? see CCM_TEST_POSTGRES_URL)")
    }

    pub async fn drop_schema(&self) {
        let admin = self.admin().await;
        sqlx::query(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.schema
        ))
        .execute(&admin)
        .await
        .expect("drop test schema");
        admin.close().await;
    }
}

#[async_trait]
impl StoreFactory for PgFactory {
    type Store = PostgresStore;

    async fn open(&self) -> PostgresStore {
        PostgresStore::open_with(self.options())
            .await
            .expect("open PostgreSQL store")
    }

    fn durable(&self) -> bool {
        true
    }

    async fn close(&self, store: PostgresStore) {
        store.close().await;
    }

    async fn cleanup(&self) {
        self.drop_schema().await;
    }
}
