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
const ROUNDS: u8 = 4;

/// Findings are named in blocks (#22): a block's number goes through a keyed permutation of
/// `[0, 2^40)` and its findings take the `2^11` ids after it, one asset's findings of one
/// write together. Ids of one permutation each are scattered over the whole range, so every
/// new finding landed on a random page of every index holding its id (the id's own, the
/// worklists'): at 200 members that was most of what a full re-match wrote. Within a block
/// the ids follow each other, which tells a member only how its own asset's findings were
/// written; the blocks' numbers say no more than any opaque id. Block ids are above `2^52`
/// (where no id of the plain scheme is) and at most `2^52 + 2^51`, exact in JavaScript.
const BLOCK_BITS: u32 = 40;
pub(crate) const BLOCK_LEN: usize = 1 << 11;
const BLOCKED_BASE: i64 = (1 << 52) + 1;

/// The kinds of record with opaque ids, as named in `opaque_id.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Asset,
    Alert,
    Channel,
    Statement,
    Footprint,
    /// Blocks of finding ids (see [`BLOCK_LEN`]); findings written before 0027 took ids of
    /// the plain scheme, from the sequence `finding`.
    FindingBlock,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Asset => "asset",
            Self::Alert => "alert",
            Self::Channel => "channel",
            Self::Statement => "statement",
            Self::Footprint => "footprint",
            Self::FindingBlock => "finding-block",
        }
    }
}

/// A keyed permutation of `[0, 2^bits)` (`bits` even), walked to stay above `floor`.
pub(crate) struct Permutation {
    key: Vec<u8>,
    floor: u64,
    bits: u32,
}

impl Permutation {
    fn new(key: &[u8], floor: u64) -> Self {
        Self::of_bits(key, floor, BITS)
    }

    fn of_bits(key: &[u8], floor: u64, bits: u32) -> Self {
        debug_assert!(bits.is_multiple_of(2) && bits <= 62);
        Self {
            key: key.to_vec(),
            floor,
            bits,
        }
    }

    fn half_mask(&self) -> u64 {
        (1 << (self.bits / 2)) - 1
    }

    fn round(&self, round: u8, half: u64) -> u64 {
        let mut h = Sha256::new();
        h.update(&self.key);
        h.update([round]);
        h.update(half.to_le_bytes());
        let d = h.finalize();
        u64::from_le_bytes(d[..8].try_into().expect("eight bytes")) & self.half_mask()
    }

    fn permute(&self, x: u64) -> u64 {
        let half = self.bits / 2;
        let (mut left, mut right) = (x >> half, x & self.half_mask());
        for r in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(r, right));
        }
        (left << half) | right
    }

    /// The id of sequence number `seq` (which must be at least `floor`): the permutation,
    /// applied again while the result would be at or below `floor` (cycle walking, which keeps
    /// it a one-to-one map of `[floor, 2^bits)` onto ids in `(floor, 2^bits]`).
    fn id(&self, seq: u64) -> Result<i64> {
        if seq < self.floor || seq >= 1 << self.bits {
            return Err(StoreError::Invalid(format!(
                "opaque id sequence number {seq} is outside [{}, 2^{})",
                self.floor, self.bits
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
    /// Advances a kind's sequence by `n` in this change's transaction (a rolled-back change
    /// gives its numbers back): the numbers `[end - n, end)`, and the kind's floor and key.
    async fn reserve(&mut self, kind: Kind, n: usize) -> Result<(u64, u64, String)> {
        let row = sqlx::query(
            "UPDATE opaque_id SET next = next + $1 WHERE kind = $2 RETURNING next, floor, key",
        )
        .bind(n as i64)
        .bind(kind.as_str())
        .fetch_one(&mut *self.tx)
        .await?;
        let end: i64 = row.try_get("next")?;
        let floor: i64 = row.try_get("floor")?;
        Ok((end as u64, floor as u64, row.try_get("key")?))
    }

    /// `n` new ids of one kind.
    pub(crate) async fn new_ids(&mut self, kind: Kind, n: usize) -> Result<Vec<i64>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let (end, floor, key) = self.reserve(kind, n).await?;
        let permutation = Permutation::new(key.as_bytes(), floor);
        (end - n as u64..end)
            .map(|seq| permutation.id(seq))
            .collect()
    }

    /// `n` new finding ids, in blocks of [`BLOCK_LEN`] that follow each other (see there).
    pub(crate) async fn new_finding_ids(&mut self, n: usize) -> Result<Vec<i64>> {
        let blocks = n.div_ceil(BLOCK_LEN);
        if blocks == 0 {
            return Ok(Vec::new());
        }
        let (end, floor, key) = self.reserve(Kind::FindingBlock, blocks).await?;
        let permutation = Permutation::of_bits(key.as_bytes(), floor, BLOCK_BITS);
        let mut ids = Vec::with_capacity(n);
        for seq in end - blocks as u64..end {
            let first = block_start(permutation.id(seq)? - 1);
            let len = (n - ids.len()).min(BLOCK_LEN);
            ids.extend((0..len as i64).map(|i| first + i));
        }
        Ok(ids)
    }

    /// One new id of one kind.
    pub(crate) async fn new_id(&mut self, kind: Kind) -> Result<i64> {
        Ok(self.new_ids(kind, 1).await?[0])
    }
}

/// The first id of block `permuted` (a number below `2^BLOCK_BITS`).
fn block_start(permuted: i64) -> i64 {
    BLOCKED_BASE + (permuted << BLOCK_LEN.trailing_zeros())
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
    fn finding_blocks_are_apart_from_every_other_id_and_exact_in_javascript() {
        let p = Permutation::of_bits(b"a key of some kind", 0, BLOCK_BITS);
        let mut starts = HashSet::new();
        for seq in 0..100_000 {
            let start = block_start(p.id(seq).unwrap() - 1);
            assert!(start > 1 << 52, "{start} is where plain ids are");
            let last = start + BLOCK_LEN as i64 - 1;
            assert!(last <= (1 << 52) + (1 << 51), "{last} out of range");
            assert_eq!((start - BLOCKED_BASE) % BLOCK_LEN as i64, 0);
            assert!(starts.insert(start), "block {start} given twice");
        }
        // The block numbers say nothing of their order.
        let firsts: Vec<i64> = (0..1_000).map(|s| p.id(s).unwrap()).collect();
        let ascending = firsts.windows(2).filter(|w| w[1] > w[0]).count();
        assert!(
            (350..650).contains(&ascending),
            "{ascending} of 999 ascending"
        );
        // The last block there is ends at the top of the range.
        assert!(block_start((1 << BLOCK_BITS) - 1) + BLOCK_LEN as i64 - 1 <= (1 << 52) + (1 << 51));
    }

    #[test]
    fn a_sequence_number_below_the_floor_is_refused() {
        let p = Permutation::new(b"k", 10);
        assert!(p.id(9).is_err());
        assert!(p.id(1 << 52).is_err());
    }
}
