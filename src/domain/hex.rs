//! Bytes as lower-case hex, two digits per byte, high nibble first: how every SHA-256
//! dunner stores or compares is written (the chain's hashes, API keys' secrets,
//! idempotency request hashes, import keys, the policy digest). One encoder for all of
//! them, so that no two places can write one hash differently.

use sha2::{Digest, Sha256};

/// `bytes` as lower-case hex. Digits are looked up: `format!("{byte:02x}")` per byte
/// (an allocation each) cost every API request ~10,000 instructions for its key's hash,
/// and `char::from_digit` with a `char` push per nibble the ledger's writer 4,000 an
/// attempt for the chain's (issue 15).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            // A nibble is always below 16: the fallback is never taken.
            out.push(char::from(
                DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// SHA-256 of `bytes`, as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_lower_case_two_per_byte_high_nibble_first() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(hex(&[]), "");
        // Every byte, against the standard library's formatting.
        let every: Vec<u8> = (0..=255).collect();
        let formatted: String = every.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(hex(&every), formatted);
    }

    #[test]
    fn sha256_hex_is_the_known_digest() {
        // FIPS 180-2's example "abc".
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
