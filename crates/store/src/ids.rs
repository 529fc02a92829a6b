//! Opaque ids for what members own (assets, alerts, findings, channels).
//!
//! A new row's id is the next number of a per-kind sequence (table `opaque_id`, advanced in the
//! writing transaction, which already holds the write lock) put through a keyed permutation of
//! `[0, 2^52)`: ids are unique by construction (a permutation of distinct numbers), stay below
//! 2^53 so JavaScript reads them exactly, and without the key — random per database, never
//! served — they neither count nor predict anything. A member who creates an asset today and
//! another next week learns nothing from the two ids about anyone else's.
//!
//! Written here rather than taken from a crate: the format-preserving-encryption crates work on
//! digit strings with AES; this needs a 52-bit integer domain, and a four-round Feistel network
//! over SHA-256 (already a dependency) is a few lines whose properties are standard
//! (Luby–Rackoff: four rounds of a pseudorandom function give a strong pseudorandom permutation).

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Result, StoreError, audit::Change};

/// Bits of the permuted domain: ids are in `(floor, 2^52]`.
const BITS: u32 = 52;
const HALF: u32 = BITS / 2;
const HALF_MASK: u64 = (1 << HALF) - 1;
const ROUNDS: u8 = 4;

/// The kinds of record with opaque ids, as named in `opaque_id.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Asset,
    Alert,
    Finding,
    Channel,
    Statement,
    Footprint,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Asset => "asset",
            Self::Alert => "alert",
            Self::Finding => "finding",
            Self::Channel => "channel",
            Self::Statement => "statement",
            Self::Footprint => "footprint",
        }
    }
}

/// A keyed permutation of `[0, 2^52)`, walked to stay above `floor`.
pub(crate) struct Permutation {
    key: Vec<u8>,
    floor: u64,
}

impl Permutation {
    fn new(key: &[u8], floor: u64) -> Self {
        Self {
            key: key.to_vec(),
            floor,
        }
    }

    fn round(&self, round: u8, half: u64) -> u64 {
        let mut h = Sha256::new();
        h.update(&self.key);
        h.update([round]);
        h.update(half.to_le_bytes());
        let d = h.finalize();
        u64::from_le_bytes(d[..8].try_into().expect("eight bytes")) & HALF_MASK
    }

    fn permute(&self, x: u64) -> u64 {
        let (mut left, mut right) = (x >> HALF, x & HALF_MASK);
        for r in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(r, right));
        }
        (left << HALF) | right
    }

    /// The id of sequence number `seq` (which must be at least `floor`): the permutation,
    /// applied again while the result would be at or below `floor` (cycle walking, which keeps
    /// it a one-to-one map of `[floor, 2^52)` onto ids in `(floor, 2^52]`).
    fn id(&self, seq: u64) -> Result<i64> {
        if seq < self.floor || seq >= 1 << BITS {
            return Err(StoreError::Invalid(format!(
                "opaque id sequence number {seq} is outside [{}, 2^{BITS})",
                self.floor
            )));
        }
        let mut x = self.permute(seq);
        while x < self.floor {
            x = self.permute(x);
        }
        Ok(x as i64 + 1)
    }
}

impl Change {
    /// `n` new ids of one kind, reserved in this change's transaction (a rolled-back change
    /// gives its numbers back).
    pub(crate) async fn new_ids(&mut self, kind: Kind, n: usize) -> Result<Vec<i64>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let row = sqlx::query(
            "UPDATE opaque_id SET next = next + $1 WHERE kind = $2 RETURNING next, floor, key",
        )
        .bind(n as i64)
        .bind(kind.as_str())
        .fetch_one(&mut *self.tx)
        .await?;
        let end: i64 = row.try_get("next")?;
        let floor: i64 = row.try_get("floor")?;
        let key: String = row.try_get("key")?;
        let permutation = Permutation::new(key.as_bytes(), floor as u64);
        (end as u64 - n as u64..end as u64)
            .map(|seq| permutation.id(seq))
            .collect()
    }

    /// One new id of one kind.
    pub(crate) async fn new_id(&mut self, kind: Kind) -> Result<i64> {
        Ok(self.new_ids(kind, 1).await?[0])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_distinct_above_the_floor_and_exact_in_javascript() {
        for floor in [0, 1, 4_321] {
            let p = Permutation::new(b"a key of some kind", floor);
            let mut seen = HashSet::new();
            for seq in floor..floor + 200_000 {
                let id = p.id(seq).unwrap();
                assert!(id > floor as i64 && id <= 1 << 52, "{id} out of range");
                assert!(seen.insert(id), "{id} given twice");
            }
        }
    }

    #[test]
    fn consecutive_ids_say_nothing_of_their_order_or_count() {
        let p = Permutation::new(b"k", 0);
        let ids: Vec<i64> = (0..1_000).map(|s| p.id(s).unwrap()).collect();
        let ascending = ids.windows(2).filter(|w| w[1] > w[0]).count();
        // A counter would be ascending 999 times of 999; a permutation about half the time.
        assert!(
            (350..650).contains(&ascending),
            "{ascending} of 999 ascending"
        );
        let small = ids.iter().filter(|id| **id < 1 << 40).count();
        assert!(small < 5, "{small} of 1,000 ids below 2^40");
        // Another key, other ids.
        let q = Permutation::new(b"l", 0);
        assert_ne!(p.id(7).unwrap(), q.id(7).unwrap());
    }

    #[test]
    fn a_sequence_number_below_the_floor_is_refused() {
        let p = Permutation::new(b"k", 10);
        assert!(p.id(9).is_err());
        assert!(p.id(1 << 52).is_err());
    }
}
