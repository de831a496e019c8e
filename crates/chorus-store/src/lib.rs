//! # chorus-store: the durable object store of a Chorus node
//!
//! (Crate documentation is being written; see the module docs below.)

mod error;
mod export;
mod store;

pub use error::StoreError;
pub use export::{ExportReader, ImportReport, EXPORT_MAGIC, EXPORT_VERSION};
pub use store::{CorruptRecord, Store, StoreConfig, FORMAT_VERSION, MAX_BATCH_OBJECTS};
