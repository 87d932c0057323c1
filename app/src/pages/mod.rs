//! One module per route.

mod home;
mod list;
mod note;
#[cfg(feature = "ssr")]
mod plain;

pub use home::Home;
#[cfg(feature = "ssr")]
pub use home::ListRowData;
pub use list::ListPage;
pub use note::NotePage;
#[cfg(feature = "ssr")]
pub use plain::{for_shell, plain_shell, seeded_lists};
