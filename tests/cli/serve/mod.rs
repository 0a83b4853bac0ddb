//! `commroute serve`: the real binary started on an ephemeral port, spoken
//! to over HTTP. Every request and every wait has a deadline.

mod api;
mod batch;
mod inline;
mod log;
mod metrics;
mod ops;
pub mod playground_edit;
pub mod playground_inbox;
mod playground_lookup;
mod reload;
pub mod server;
