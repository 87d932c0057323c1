//! Random ids: client ids on the server, document ids in models.
//!
//! This module owns making random values only; what an id names, and making
//! sure a client id is not in use, are the callers'.

/// A new random id: 22 characters of `[0-9A-Za-z]` (about 131 bits), like a
/// UUID v4 in entropy but shorter in URLs and keys.
pub(crate) fn new_id() -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let bytes = random_bytes();
    let mut n = u128::from_le_bytes(bytes);
    let mut id = String::with_capacity(22);
    for _ in 0..22 {
        id.push(ALPHABET[(n % 62) as usize] as char);
        n /= 62;
    }
    id
}

/// A random number in `[0, 1)`, for jitter.
pub(crate) fn unit() -> f64 {
    let bytes = random_bytes();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes[..8]);
    // 53 random bits: every double in [0, 1) this fine is as likely.
    (u64::from_le_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(target_arch = "wasm32")]
fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    if let Some(crypto) = web_sys::window().and_then(|w| w.crypto().ok())
        && crypto.get_random_values_with_u8_array(&mut bytes).is_ok()
    {
        return bytes;
    }
    // No Web Crypto (a worker without it): Math.random still gives unique ids.
    for b in &mut bytes {
        *b = (js_sys::Math::random() * 256.0) as u8;
    }
    bytes
}

#[cfg(not(target_arch = "wasm32"))]
fn random_bytes() -> [u8; 16] {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};

    // RandomState is seeded from the OS once per process; hashing a counter
    // and the time with two of them gives ids that never repeat in a process
    // and do not collide across processes.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut out = [0u8; 16];
    for (i, half) in out.chunks_mut(8).enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(count);
        h.write_u128(nanos);
        h.write_usize(i);
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_well_formed() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 22 && id.chars().all(|c| c.is_ascii_alphanumeric()))
        );
    }
}
