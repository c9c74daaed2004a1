//! Ports: the traits through which ccm-core reaches the outside world. Adapters in
//! other crates implement them; each port has one conformance suite (feature
//! `test-support`) that every adapter runs.

pub mod clock;
pub mod cloud;
pub mod cml;
pub mod event_sink;
pub mod ids;
pub mod kv;
pub mod metric_series;
pub mod store;

pub use clock::{Clock, ScaledClock, SystemClock, VirtualClock};
pub use cloud::CloudProvider;
pub use cml::CmlClient;
pub use event_sink::EventSink;
pub use ids::{IdSource, RandomIds, SeededIds};
pub use kv::KeyValueStore;
pub use metric_series::MetricSeries;
pub use store::Store;
