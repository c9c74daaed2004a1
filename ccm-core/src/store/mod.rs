//! Store implementations that need no I/O.

mod memory;

pub use memory::MemoryStore;
