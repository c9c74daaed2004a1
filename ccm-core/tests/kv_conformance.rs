//! The key-value conformance suite against the in-memory adapter.
#![cfg(feature = "test-support")]

use std::sync::Arc;

use ccm_core::store::MemoryKeyValueStore;

#[tokio::test]
async fn memory_key_value_store_passes_the_suite() {
    let kv = Arc::new(MemoryKeyValueStore::new());
    if let Err(failure) = ccm_core::testing::kv::run_all(kv, "memory").await {
        panic!("{failure}");
    }
}
