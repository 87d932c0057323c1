//! MongoDB storage (being built on the storage branch).
