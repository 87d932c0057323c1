//! Pieces shared by the pages.

mod header;
mod history;
mod sync_errors;

pub use header::{Header, me, names};
pub use history::History;
pub use sync_errors::SyncErrors;
