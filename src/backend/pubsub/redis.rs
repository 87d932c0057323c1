//! Redis pub/sub (being built on the storage branch).
