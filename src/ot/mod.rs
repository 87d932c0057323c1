//! Operational Transformation types, as pure functions with no I/O.
//!
//! [`json0`] is the type of every peloton document; its JSON form and its
//! results are those of the reference implementation, npm `ot-json0`.

pub mod diff;
pub mod json0;
