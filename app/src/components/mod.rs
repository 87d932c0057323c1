//! Pieces shared by the pages.

mod announce;
mod header;
mod history;
mod sync_errors;

pub use announce::{Announcements, announce_remote, provide_announcer};
pub use header::{Header, me, names};
pub use history::History;
pub use sync_errors::SyncErrors;
