//! json0 (`http://sharejs.org/types/JSONv0`): placeholder, being implemented.

/// The URI that identifies json0 on the wire and in storage.
pub const URI: &str = "http://sharejs.org/types/JSONv0";
