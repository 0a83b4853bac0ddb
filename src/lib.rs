#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod analysis;
pub mod batch;
pub mod condition;
pub mod contact;
pub mod coverage;
pub mod decision;
pub mod diag;
pub mod engine;
pub mod event;
pub mod facts;
pub mod fixture;
pub mod generate;
pub mod impact;
pub mod jsonl;
pub mod junit;
pub mod locset;
pub mod photo;
pub mod policy;
pub mod scenario;
pub mod schema;
pub mod script;
pub mod segments;
pub mod simulate;
pub mod store;
pub mod text;
pub mod timeline;
pub mod world;
pub mod yaml;

pub use decision::{InboundDecision, InboundReport, OutboundDecision, OutboundReport};
pub use diag::{Diagnostic, Diagnostics, Source};
pub use engine::EvalError;
pub use event::{EventLine, Inbound, InboundRequest, Outbound, OutboundRequest};
pub use policy::RuleSet;
pub use world::World;
