//! Conversations over time: timeline files, the simulator that applies their
//! events through the engine, the pipeline that streams a timeline through
//! it, the SQLite conversation store, the in-store view's segments and photo
//! attachments.

pub mod photo;
pub(crate) mod pipeline;
pub(crate) mod segments;
pub(crate) mod simulate;
pub mod store;
pub mod timeline;
