//! Model paths: `collection.id.field.0.x`, as dot-separated segments.
//!
//! This module owns the path syntax, which collections are local, and the json0
//! form of paths; it is pure, and never reads the model or follows refs (that
//! is `refs`').

/// A path's segments. Numeric segments index lists.
pub(crate) type Segments = Vec<String>;

/// Splits a dotted path into segments (`""` is the root).
pub(crate) fn split(path: &str) -> Segments {
    segments(path).map(str::to_owned).collect()
}

/// A dotted path's segments, borrowed (`""` is the root: none).
pub(crate) fn segments(path: &str) -> impl Iterator<Item = &str> + Clone {
    path.split('.').filter(move |_| !path.is_empty())
}

/// Joins segments into a dotted path.
pub(crate) fn join(segments: &[String]) -> String {
    segments.join(".")
}

/// Appends a relative path to a base.
pub(crate) fn concat(base: &[String], relative: &str) -> Segments {
    let relative = segments(relative);
    // Sized once: growing it would copy every segment's handle again.
    let mut out = Vec::with_capacity(base.len() + relative.clone().count());
    out.extend_from_slice(base);
    out.extend(relative.map(str::to_owned));
    out
}

/// A segment as a list index, if it is all digits.
pub(crate) fn index(segment: &str) -> Option<usize> {
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    segment.parse().ok()
}

/// Whether a collection lives only in the model: `_page`, `_session`, any
/// `_…` and `$…`. Everything else is remote, synced through the connection.
pub(crate) fn is_local(collection: &str) -> bool {
    collection.starts_with('_') || collection.starts_with('$')
}

/// Whether `prefix` is a prefix of `path`.
pub(crate) fn starts_with(path: &[String], prefix: &[String]) -> bool {
    path.len() >= prefix.len() && path[..prefix.len()] == *prefix
}

/// Converts model segments to a json0 path (numeric segments become list
/// indexes, since the model only writes them where a list is).
pub(crate) fn to_json0(segments: &[String]) -> crate::ot::json0::Path {
    segments
        .iter()
        .map(|s| match index(s) {
            Some(i) => crate::ot::json0::PathSegment::Index(i),
            None => crate::ot::json0::PathSegment::Key(s.clone()),
        })
        .collect()
}

/// Converts a json0 path to model segments.
pub(crate) fn from_json0(path: &[crate::ot::json0::PathSegment]) -> Segments {
    path.iter()
        .map(|s| match s {
            crate::ot::json0::PathSegment::Index(i) => i.to_string(),
            crate::ot::json0::PathSegment::Key(k) => k.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(split("a.b.0"), ["a", "b", "0"]);
        assert!(split("").is_empty());
        assert_eq!(join(&split("a.b")), "a.b");
        assert_eq!(concat(&split("a"), "b.c"), ["a", "b", "c"]);
        assert_eq!(index("12"), Some(12));
        assert_eq!(index("1a"), None);
        assert_eq!(index(""), None);
        assert!(is_local("_page") && is_local("$queries") && !is_local("todos"));
    }
}
