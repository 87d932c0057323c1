//! One module per route.

mod home;

pub use home::Home;
