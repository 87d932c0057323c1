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

/// 16 bytes from the operating system's random source (Web Crypto in the
/// browser), through `getrandom`.
fn random_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    // Linux's getrandom(2) and Web Crypto do not fail once the process is
    // running; without either, no id is unguessable, so nothing may go on.
    getrandom::fill(&mut bytes).expect("the operating system gave no random bytes");
    bytes
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
