//! The store conformance suite against the in-memory reference store.
#![cfg(feature = "test-support")]

use ccm_core::testing::store::MemoryStoreFactory;

ccm_core::store_conformance_tests!(std::future::ready(MemoryStoreFactory));
