//! Tools for the people who edit the rules: the decision-matrix analysis,
//! the impact of a rules change, scenario coverage and the JSON Schemas of
//! the input files.

pub mod analysis;
pub mod coverage;
pub mod impact;
pub mod schema;
