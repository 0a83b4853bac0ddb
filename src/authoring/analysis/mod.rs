//! The decision matrix: every class of input the declarative vocabulary can
//! tell apart, a concrete witness for each, and what a rule set decides there.
//!
//! Declarative conditions only compare a handful of things: who started the
//! conversation, the kind of message answered, and how a few locations and
//! sets of locations relate (the client's locations `C`, the starting staff
//! member's locations `S`, and the single locations `L` last appointment,
//! `F` started from, `Q` answered location), plus yes/no client facts and how
//! the sending account relates to the client's account. Every set expression
//! is a union of cells of the Venn diagram of those atoms, and every test is
//! either the (non-)emptiness of such a union, membership of a single location,
//! or a count of `C` or `S` compared with a number written in the rules. Two
//! inputs that agree on which cells are empty and on the counts (capped one
//! above the largest number written in a `count*` test) are therefore decided
//! alike by every declarative rule. [`InboundClass`] and [`OutboundClass`] are
//! exactly that information; the enumeration produces each class once,
//! builds a witness world for it (in memory, with the same checks as a world
//! file, which it can also be written as) and routes it with the real engine. Rules that use Rhai or name literal
//! location or account ids are evaluated on the witnesses too, but the classes
//! are not guaranteed to tell apart everything such rules see: they are marked.
//!
//! Live delivery is evaluated per [`RecipientClass`]: each witness world also
//! holds one staff member per way a staff member can relate to where the
//! message lands (associated with none, some or all landing locations; logged
//! out, in at a landing location or elsewhere; access as their locations,
//! denied or granted), and the one who started the conversation.
//!
//! From the matrix follow the findings of `commroute analyze`: rules that
//! never decide (shadowed by the earlier rules that take every input they
//! match, or whose condition holds for no input; a grant that admits nobody
//! past the gates), gaps (inputs that no rule decides usefully: a message that
//! lands nowhere, or a rule that fails), and, as a note, grants that never
//! admit anyone another grant does not.
//!
//! Where things are: `dims.rs` (what the rule sets read), `inbound_class.rs`
//! (inbound classes and their enumeration), `classes.rs` (recipient and
//! outbound classes, and [`Classes`]), `witness.rs` (witness worlds and
//! events), `matrix.rs` (the walk and its rows), `live.rs` (live delivery
//! per recipient class), `findings.rs` (shadowed rules and grants).
//! Rendering the matrix as a table is the command line's job.

mod classes;
mod dims;
mod findings;
mod inbound_class;
mod live;
mod matrix;
mod witness;

pub use classes::{Access, Assoc, Classes, Login, OutboundClass, RecipientClass};
pub use dims::Dims;
pub use findings::{Gap, Shadowed};
pub use inbound_class::{InboundClass, Place};
pub use live::LiveCell;
pub use matrix::{analyze, roles, Analysis, Role, Row, Witness};

pub(crate) use matrix::key;
