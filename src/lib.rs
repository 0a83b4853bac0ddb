#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod authoring;
pub mod cli;
pub mod diag;
pub mod engine;
#[cfg(any(test, feature = "generate"))]
pub mod generate;
pub mod jsonl;
pub mod progress;
pub mod replay;
pub mod rules;
pub mod scenario;
pub mod serve;
pub mod text;
pub mod watch;
pub mod world;
pub mod yaml;

pub use diag::{Diagnostic, Diagnostics, Source};
pub use engine::decision::{InboundDecision, InboundReport, OutboundDecision, OutboundReport};
pub use engine::event::{Inbound, InboundRequest, Outbound, OutboundRequest};
pub use engine::EvalError;
pub use jsonl::EventLine;
pub use progress::Progress;
pub use rules::{RuleSet, RULES_FORMAT_VERSION};
pub use world::{Facts, FactsError, World};
