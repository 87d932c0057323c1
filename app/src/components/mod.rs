//! Pieces shared by the pages.

mod header;
mod history;

pub use header::{Header, me, names};
pub use history::History;
