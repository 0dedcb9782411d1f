//! Merkle trees exactly as RFC 9162 §2.1 defines them (the hashing of RFC 6962): the tree head
//! of a list of leaves, inclusion and consistency proofs, and the verification algorithms of
//! §2.1.3.2 and §2.1.4.2. The exchange log (one per peer) is built on these.
//!
//! Generation comes twice. `root`, `inclusion_proof` and `consistency_proof` follow the RFC's
//! recursive definitions over the whole list of leaf hashes: they are the reference, simple
//! enough to check by reading. A stored log cannot hold millions of leaves in memory, so
//! `inclusion_ranges` and `consistency_ranges` walk the same recursion without the leaves and
//! name, for each proof hash, the range of leaves it is the head of; `Subtrees` says which
//! complete subtrees those heads are folded from, so a store can fetch just those (see
//! `compact`). Verification is the RFC's iterative algorithm, which never sees the leaves; the
//! tests check all three against each other for every size and index up to 260.

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, an interior node or a tree head.
pub type Hash = [u8; 32];

/// Why a proof or a request for one is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("index {index} is not below the tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("a consistency proof needs 0 < first size <= second size, got {first} and {second}")]
    BadSizes { first: u64, second: u64 },
    #[error("the proof has the wrong number of hashes ({got})")]
    WrongLength { got: usize },
    #[error("the proof does not lead to the given root")]
    RootMismatch,
}

/// `SHA-256(0x00 || data)`: the hash of one leaf's data.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The head of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (n > 1): where the RFC splits a list.
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH(D[n]) over the leaves' hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let k = split(leaves.len());
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]): the inclusion proof of leaf `index` in the tree of `leaves`.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, MerkleError> {
    let size = leaves.len() as u64;
    let m = usize::try_from(index)
        .ok()
        .filter(|m| *m < leaves.len())
        .ok_or(MerkleError::IndexOutOfRange { index, size })?;
    Ok(path(m, leaves))
}

fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let k = split(leaves.len());
    let mut proof;
    if m < k {
        proof = path(m, &leaves[..k]);
        proof.push(root(&leaves[k..]));
    } else {
        proof = path(m - k, &leaves[k..]);
        proof.push(root(&leaves[..k]));
    }
    proof
}

/// PROOF(m, D[n]): the consistency proof between the first `first` leaves and all of
/// `leaves` (0 < first <= n).
pub fn consistency_proof(leaves: &[Hash], first: u64) -> Result<Vec<Hash>, MerkleError> {
    let second = leaves.len() as u64;
    let m = usize::try_from(first)
        .ok()
        .filter(|m| *m > 0 && *m <= leaves.len())
        .ok_or(MerkleError::BadSizes { first, second })?;
    Ok(subproof(m, leaves, true))
}

fn subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole {
            Vec::new()
        } else {
            vec![root(leaves)]
        };
    }
    let k = split(n);
    let mut proof;
    if m <= k {
        proof = subproof(m, &leaves[..k], whole);
        proof.push(root(&leaves[k..]));
    } else {
        proof = subproof(m - k, &leaves[k..], false);
        proof.push(root(&leaves[..k]));
    }
    proof
}

// ---------------------------------------------------------------------------------------------
// Proofs as ranges of leaves

/// A range of leaves `[start, end)`: a proof hash is the head of one.
pub type Range = (u64, u64);

/// A complete subtree: `2^level` leaves from `index · 2^level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subtree {
    pub level: u32,
    pub index: u64,
}

impl Subtree {
    pub fn start(&self) -> u64 {
        self.index << self.level
    }
    pub fn end(&self) -> u64 {
        (self.index + 1) << self.level
    }
}

/// The largest power of two smaller than `n` (n > 1), for sizes beyond memory.
fn split64(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The ranges whose heads make up PATH(index, D[size]), in proof order.
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<Range>, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::new();
    path_ranges(index, 0, size, &mut out);
    Ok(out)
}

fn path_ranges(m: u64, start: u64, end: u64, out: &mut Vec<Range>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split64(n);
    if m < k {
        path_ranges(m, start, start + k, out);
        out.push((start + k, end));
    } else {
        path_ranges(m - k, start + k, end, out);
        out.push((start, start + k));
    }
}

/// The ranges whose heads make up PROOF(first, D[second]), in proof order.
pub fn consistency_ranges(first: u64, second: u64) -> Result<Vec<Range>, MerkleError> {
    if first == 0 || first > second {
        return Err(MerkleError::BadSizes { first, second });
    }
    let mut out = Vec::new();
    subproof_ranges(first, 0, second, true, &mut out);
    Ok(out)
}

fn subproof_ranges(m: u64, start: u64, end: u64, whole: bool, out: &mut Vec<Range>) {
    let n = end - start;
    if m == n {
        if !whole {
            out.push((start, end));
        }
        return;
    }
    let k = split64(n);
    if m <= k {
        subproof_ranges(m, start, start + k, whole, out);
        out.push((start + k, end));
    } else {
        subproof_ranges(m - k, start + k, end, false, out);
        out.push((start, start + k));
    }
}

/// The complete subtrees whose heads, folded from the right, give the head of `[start, end)`:
/// the largest aligned one from `start`, then the next. Every range a proof or a tree head
/// names splits this way.
pub fn subtrees(start: u64, end: u64) -> Vec<Subtree> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        let room = 63 - (end - at).leading_zeros();
        let align = if at == 0 { 63 } else { at.trailing_zeros() };
        let level = room.min(align);
        out.push(Subtree {
            level,
            index: at >> level,
        });
        at += 1u64 << level;
    }
    out
}

/// The head of a range from the heads of its `subtrees`, in their order.
pub fn fold(heads: &[Hash]) -> Hash {
    match heads.split_last() {
        None => empty_root(),
        Some((last, rest)) => rest
            .iter()
            .rev()
            .fold(*last, |right, left| node_hash(left, &right)),
    }
}

/// Checks that `leaf` (a leaf hash) is at `index` in the tree of `size` whose head is `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            // More hashes than the path has levels.
            return Err(MerkleError::WrongLength { got: proof.len() });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(MerkleError::WrongLength { got: proof.len() });
    }
    if r != *root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `second` leaves with head `second_root` extends the tree of
/// `first` leaves with head `first_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Hash],
    first_root: &Hash,
    second_root: &Hash,
) -> Result<(), MerkleError> {
    if first == 0 || first > second {
        return Err(MerkleError::BadSizes { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(MerkleError::WrongLength { got: proof.len() });
        }
        return if first_root == second_root {
            Ok(())
        } else {
            Err(MerkleError::RootMismatch)
        };
    }
    if proof.is_empty() {
        return Err(MerkleError::WrongLength { got: 0 });
    }
    // When the first tree is a complete subtree on the left, its head is the proof's start.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let Some((start, rest)) = path.split_first() else {
        return Err(MerkleError::WrongLength { got: 0 });
    };
    let mut f_n = first - 1;
    let mut s_n = second - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut fr = *start;
    let mut sr = *start;
    for c in rest {
        if s_n == 0 {
            return Err(MerkleError::WrongLength { got: proof.len() });
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(MerkleError::WrongLength { got: proof.len() });
    }
    if fr != *first_root || sr != *second_root {
        return Err(MerkleError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(h: &Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The leaves of the RFC 6962 reference tests (Certificate Transparency's and
    /// transparency-dev/merkle's): their data, hashed as leaves.
    fn reference_leaves() -> Vec<Hash> {
        let data: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        data.iter().map(|d| leaf_hash(d)).collect()
    }

    #[test]
    fn tree_heads_of_the_reference_leaves() {
        let want = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let leaves = reference_leaves();
        for (n, want) in want.iter().enumerate() {
            assert_eq!(hex(&root(&leaves[..=n])), *want, "size {}", n + 1);
        }
        assert_eq!(
            hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    /// Sizes up to which every proof is checked against the RFC's definitions: a few past 256,
    /// since a power of two is the edge where mistakes in the recursion show.
    const EXHAUSTIVE: usize = 260;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// The head of a range from its subtrees, each computed from the leaves.
    fn range_head(all: &[Hash], (start, end): Range) -> Hash {
        let heads: Vec<Hash> = subtrees(start, end)
            .iter()
            .map(|t| root(&all[t.start() as usize..t.end() as usize]))
            .collect();
        fold(&heads)
    }

    /// The ranges a proof names, folded from complete subtrees, give exactly the reference
    /// proofs and heads, for every size, index and pair of sizes up to [`EXHAUSTIVE`].
    #[test]
    fn proofs_from_ranges_and_subtrees_equal_the_reference() {
        let all = leaves(EXHAUSTIVE);
        for n in 1..=all.len() {
            let tree = &all[..n];
            let size = n as u64;
            assert_eq!(range_head(tree, (0, size)), root(tree), "head of {n}");
            for t in subtrees(0, size) {
                assert!(t.end() <= size && t.start() % (1 << t.level) == 0);
            }
            for i in 0..size {
                let want = inclusion_proof(tree, i).unwrap();
                let got: Vec<Hash> = inclusion_ranges(i, size)
                    .unwrap()
                    .into_iter()
                    .map(|r| range_head(tree, r))
                    .collect();
                assert_eq!(got, want, "inclusion of {i} in {n}");
            }
            for m in 1..=size {
                let want = consistency_proof(tree, m).unwrap();
                let got: Vec<Hash> = consistency_ranges(m, size)
                    .unwrap()
                    .into_iter()
                    .map(|r| range_head(tree, r))
                    .collect();
                assert_eq!(got, want, "consistency of {m} and {n}");
            }
        }
        assert!(inclusion_ranges(5, 5).is_err());
        assert!(consistency_ranges(0, 5).is_err());
        assert!(consistency_ranges(6, 5).is_err());
        // Sizes far beyond memory: the ranges still come out, quickly and within the tree.
        let big = 10_000_000_000u64;
        for r in inclusion_ranges(big - 12_345, big).unwrap() {
            assert!(r.0 < r.1 && r.1 <= big);
        }
        assert_eq!(
            consistency_ranges(big / 3, big).unwrap().len(),
            consistency_proof_len(big / 3, big)
        );
    }

    /// The length of PROOF(m, D[n]) by its definition's recursion, without any hashes.
    fn consistency_proof_len(m: u64, n: u64) -> usize {
        fn go(m: u64, n: u64, whole: bool) -> usize {
            if m == n {
                return usize::from(!whole);
            }
            let k = split64(n);
            if m <= k {
                go(m, k, whole) + 1
            } else {
                go(m - k, n - k, false) + 1
            }
        }
        go(m, n, true)
    }

    /// Every proof the definitions give verifies, for every size and index (inclusion) and
    /// every pair of sizes (consistency) up to [`EXHAUSTIVE`]; and the obvious mutations of each
    /// fail.
    #[test]
    fn every_proof_up_to_the_exhaustive_size_verifies_and_its_mutations_do_not() {
        let all = leaves(EXHAUSTIVE);
        let roots: Vec<Hash> = (0..=all.len()).map(|n| root(&all[..n])).collect();
        for n in 1..=all.len() {
            let tree = &all[..n];
            let size = n as u64;
            for i in 0..n {
                let proof = inclusion_proof(tree, i as u64).unwrap();
                let leaf = &tree[i];
                verify_inclusion(leaf, i as u64, size, &proof, &roots[n]).unwrap();
                // (Another size with the same head is not a mutation to test: a proof shows a
                // leaf under a head, and a checkpoint is what binds a head to its size.)
                if i + 1 < n {
                    assert!(verify_inclusion(leaf, i as u64 + 1, size, &proof, &roots[n]).is_err());
                }
                if let Some((_, shorter)) = proof.split_last() {
                    assert!(verify_inclusion(leaf, i as u64, size, shorter, &roots[n]).is_err());
                }
                let mut longer = proof.clone();
                longer.push(roots[n]);
                assert!(verify_inclusion(leaf, i as u64, size, &longer, &roots[n]).is_err());
            }
            for m in 1..=n {
                let first = m as u64;
                let proof = consistency_proof(tree, first).unwrap();
                verify_consistency(first, size, &proof, &roots[m], &roots[n]).unwrap();
                if m < n {
                    assert!(
                        verify_consistency(first, size, &proof, &roots[m - 1], &roots[n]).is_err()
                    );
                    assert!(
                        verify_consistency(first, size, &proof, &roots[m], &roots[n - 1]).is_err()
                    );
                    assert!(
                        verify_consistency(first + 1, size, &proof, &roots[m], &roots[n]).is_err()
                    );
                    if let Some((_, shorter)) = proof.split_last() {
                        assert!(
                            verify_consistency(first, size, shorter, &roots[m], &roots[n]).is_err()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn requests_for_impossible_proofs_are_refused() {
        let tree = leaves(5);
        assert_eq!(
            inclusion_proof(&tree, 5),
            Err(MerkleError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            consistency_proof(&tree, 0),
            Err(MerkleError::BadSizes {
                first: 0,
                second: 5
            })
        );
        assert!(consistency_proof(&tree, 6).is_err());
        let r = root(&tree);
        assert!(verify_inclusion(&tree[0], 5, 5, &[], &r).is_err());
        assert!(verify_consistency(0, 5, &[], &r, &r).is_err());
        assert!(verify_consistency(6, 5, &[], &r, &r).is_err());
        assert_eq!(verify_consistency(5, 5, &[], &r, &r), Ok(()));
        assert!(verify_consistency(5, 5, &[r], &r, &r).is_err());
    }

    proptest! {
        /// A flipped bit anywhere in an inclusion proof, the leaf or the root is caught.
        #[test]
        fn a_flipped_bit_breaks_an_inclusion_proof(
            n in 2usize..300,
            i in any::<prop::sample::Index>(),
            which in any::<prop::sample::Index>(),
            bit in 0usize..256,
        ) {
            let tree = leaves(n);
            let i = i.index(n);
            let r = root(&tree);
            let mut proof = inclusion_proof(&tree, i as u64).unwrap();
            let mut leaf = tree[i];
            let mut head = r;
            let slots = proof.len() + 2;
            match which.index(slots) {
                0 => leaf[bit / 8] ^= 1 << (bit % 8),
                1 => head[bit / 8] ^= 1 << (bit % 8),
                k => proof[k - 2][bit / 8] ^= 1 << (bit % 8),
            }
            prop_assert!(verify_inclusion(&leaf, i as u64, n as u64, &proof, &head).is_err());
        }

        /// A flipped bit in a consistency proof or either head is caught.
        #[test]
        fn a_flipped_bit_breaks_a_consistency_proof(
            n in 2usize..300,
            m in any::<prop::sample::Index>(),
            which in any::<prop::sample::Index>(),
            bit in 0usize..256,
        ) {
            let tree = leaves(n);
            let m = 1 + m.index(n - 1); // 1 ..= n - 1
            let (mut first, mut second) = (root(&tree[..m]), root(&tree));
            let mut proof = consistency_proof(&tree, m as u64).unwrap();
            let slots = proof.len() + 2;
            match which.index(slots) {
                0 => first[bit / 8] ^= 1 << (bit % 8),
                1 => second[bit / 8] ^= 1 << (bit % 8),
                k => proof[k - 2][bit / 8] ^= 1 << (bit % 8),
            }
            prop_assert!(
                verify_consistency(m as u64, n as u64, &proof, &first, &second).is_err()
            );
        }
    }
}
