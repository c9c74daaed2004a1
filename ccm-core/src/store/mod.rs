//! Store implementations that need no I/O.

mod memory;
mod memory_series;

pub use memory::MemoryStore;
pub use memory_series::MemoryMetricSeries;
