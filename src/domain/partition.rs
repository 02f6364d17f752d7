//! The scheduler's partitions: the consumers are split into a fixed number of
//! partitions by a hash of their key, so that daemons sharing a ledger can each claim
//! some partitions per tick and plan every consumer exactly once between them.

use sha2::{Digest, Sha256};

/// How many partitions the consumers are split into: enough to spread the work over
/// a few dozen daemons, few enough that a tick's claims stay cheap.
pub const PARTITIONS: i64 = 64;

/// The partition of a consumer, from its key: the consumer's id, or the account's id
/// for an account without one (a consumer of one debt). Every debt of a consumer is in
/// its consumer's partition, so a consumer is planned whole.
pub fn partition_of(consumer_key: &str) -> i64 {
    let hash = Sha256::digest(consumer_key.as_bytes());
    let first = hash.iter().take(8).fold(0_u64, |n, byte| n << 8 | u64::from(*byte));
    i64::try_from(first % PARTITIONS.unsigned_abs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_spread() {
        assert_eq!(partition_of("C-1"), partition_of("C-1"));
        let used: std::collections::BTreeSet<i64> =
            (0..1000).map(|i| partition_of(&format!("C-{i}"))).collect();
        assert_eq!(used.len(), PARTITIONS as usize);
        assert!(used.iter().all(|p| (0..PARTITIONS).contains(p)));
    }
}
