//! The compact range of a log: the heads of the complete subtrees that make up its leaves so
//! far (at most one per level, largest first). It is all a log needs to append a leaf and to
//! give its tree head, whatever its size; a store keeps it beside the log and, for proofs, the
//! heads of the complete subtrees that appends complete (see `merkle::subtrees`).

use crate::merkle::{Hash, MerkleError, Subtree, fold, node_hash, subtrees};

/// The compact range of the first `size` leaves of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    heads: Vec<Hash>,
}

impl CompactRange {
    /// The range of the empty tree.
    pub fn empty() -> Self {
        Self {
            size: 0,
            heads: Vec::new(),
        }
    }

    /// The range of `size` leaves from its heads, largest subtree first: one per bit set in
    /// `size`.
    pub fn new(size: u64, heads: Vec<Hash>) -> Result<Self, MerkleError> {
        if heads.len() != size.count_ones() as usize {
            return Err(MerkleError::WrongLength { got: heads.len() });
        }
        Ok(Self { size, heads })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The heads, largest subtree first (the subtrees are `merkle::subtrees(0, size)`).
    pub fn heads(&self) -> &[Hash] {
        &self.heads
    }

    /// The subtrees whose heads these are.
    pub fn subtrees(&self) -> Vec<Subtree> {
        subtrees(0, self.size)
    }

    /// The tree head of the leaves so far.
    pub fn root(&self) -> Hash {
        fold(&self.heads)
    }

    /// Appends the leaf whose hash is `leaf`; `completed` hears of every subtree of two or more
    /// leaves the append completes, smallest first, with its head.
    pub fn append(&mut self, leaf: Hash, mut completed: impl FnMut(Subtree, &Hash)) {
        let index = self.size;
        let mut head = leaf;
        let mut level = 0u32;
        // Each set low bit of the old size is a subtree of that level on the right edge, which
        // the new one completes: merge until a clear bit.
        while (index >> level) & 1 == 1 {
            let Some(left) = self.heads.pop() else {
                break;
            };
            head = node_hash(&left, &head);
            level += 1;
            completed(
                Subtree {
                    level,
                    index: index >> level,
                },
                &head,
            );
        }
        self.heads.push(head);
        self.size += 1;
    }

    /// The text kept in a store: the size, then each head in lower-case hex, space-separated.
    pub fn to_text(&self) -> String {
        let mut out = self.size.to_string();
        for h in &self.heads {
            out.push(' ');
            out.push_str(&hex::encode(h));
        }
        out
    }

    /// Reads `to_text`'s form.
    pub fn from_text(text: &str) -> Option<Self> {
        let mut parts = text.split(' ');
        let size: u64 = parts.next()?.parse().ok()?;
        let mut heads = Vec::new();
        for part in parts {
            let mut h = [0u8; 32];
            hex::decode_to_slice(part, &mut h).ok()?;
            heads.push(h);
        }
        Self::new(size, heads).ok()
    }
}

impl Default for CompactRange {
    fn default() -> Self {
        Self::empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, root};

    #[test]
    fn appending_gives_the_reference_heads_and_names_every_completed_subtree() {
        let leaves: Vec<Hash> = (0..300u64).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut range = CompactRange::empty();
        let mut completed = Vec::new();
        assert_eq!(range.root(), root(&[]));
        for (n, leaf) in leaves.iter().enumerate() {
            range.append(*leaf, |t, h| completed.push((t, *h)));
            let size = n + 1;
            assert_eq!(range.size(), size as u64);
            assert_eq!(range.root(), root(&leaves[..size]), "size {size}");
            for (t, h) in range.subtrees().iter().zip(range.heads()) {
                assert_eq!(*h, root(&leaves[t.start() as usize..t.end() as usize]));
            }
            assert_eq!(
                CompactRange::from_text(&range.to_text()),
                Some(range.clone())
            );
        }
        // Every complete subtree of two or more leaves, once, with its head.
        let mut want = Vec::new();
        for level in 1..=8u32 {
            for index in 0..(300u64 >> level) {
                let t = Subtree { level, index };
                want.push((t, root(&leaves[t.start() as usize..t.end() as usize])));
            }
        }
        completed.sort_by_key(|(t, _)| *t);
        want.sort_by_key(|(t, _)| *t);
        assert_eq!(completed, want);
    }

    #[test]
    fn a_range_must_have_one_head_per_bit_of_its_size() {
        assert!(CompactRange::new(5, vec![[0; 32]]).is_err());
        assert!(CompactRange::new(5, vec![[0; 32], [1; 32]]).is_ok());
        assert_eq!(CompactRange::from_text("3 00"), None);
        assert_eq!(CompactRange::from_text("x"), None);
        assert_eq!(CompactRange::from_text("0"), Some(CompactRange::empty()));
    }
}
