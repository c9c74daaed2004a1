//! Store implementations that need no I/O.

mod memory;
mod memory_kv;
mod memory_series;

pub use memory::MemoryStore;
pub use memory_kv::MemoryKeyValueStore;
pub use memory_series::MemoryMetricSeries;
