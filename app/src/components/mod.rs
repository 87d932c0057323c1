//! Pieces shared by the pages.

mod header;

pub use header::{Header, me, names};
