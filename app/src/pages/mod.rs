//! One module per route.

mod home;
mod list;
mod note;

pub use home::Home;
pub use list::ListPage;
pub use note::NotePage;
