//! The RFC 6962 / RFC 9162 Merkle tree over a node's log (SHA-256, `0x00` leaf and `0x01` node
//! prefixes): the incremental frontier that makes appending O(log n), proof shapes, and the
//! verifiers for inclusion and consistency proofs. Which subtree hashes a backend persists is
//! decided here too (`STORED_LEVEL_STEP`), so every backend serves proofs the same way.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Hashes of perfect subtrees are persisted only at levels that are multiples of this step
/// (level 0 is the leaf hash kept with each event). Any other subtree is rebuilt from at most
/// `2^(STORED_LEVEL_STEP - 1)` stored hashes one stored level below. Four keeps the extra rows at
/// about 1/15 per event while a proof still needs only a few dozen small reads.
pub const STORED_LEVEL_STEP: u8 = 4;

/// Deepest tree supported: 2^63 leaves.
pub const LEVEL_MAX: u8 = 63;

/// The hash of an empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const SHA256_INITIAL: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// `SHA-256(0x01 || left || right)`.
///
/// The message is always 65 bytes, so with SHA-256's padding (`0x80`, zeros, the length in
/// bits) it is always the same two blocks: they are laid out here and compressed directly,
/// without the streaming hasher's buffering. A tree over `n` leaves hashes `n - 1` nodes, so an
/// audit computes one for every event. Tests hold it to the streaming hasher.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    use sha2::digest::consts::U64;
    use sha2::digest::generic_array::GenericArray;
    let mut blocks = [GenericArray::<u8, U64>::default(); 2];
    let [first, second] = &mut blocks;
    first[0] = 1;
    first[1..33].copy_from_slice(left);
    first[33..].copy_from_slice(&right[..31]);
    second[0] = right[31];
    second[1] = 0x80;
    second[56..].copy_from_slice(&(65u64 * 8).to_be_bytes());
    let mut state = SHA256_INITIAL;
    sha2::compress256(&mut state, &blocks);
    let mut hash = [0u8; 32];
    for (bytes, word) in hash.chunks_exact_mut(4).zip(state) {
        bytes.copy_from_slice(&word.to_be_bytes());
    }
    hash
}

/// A perfect subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    /// Whether backends persist this node's hash.
    pub fn is_stored(&self) -> bool {
        self.level.is_multiple_of(STORED_LEVEL_STEP)
    }
}

/// The right edge of a tree: the roots of its perfect subtrees, largest first. It is all the
/// state needed to append a leaf and compute the root, and it is what backends persist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// One hash per set bit of `size`, from the highest bit down.
    hashes: Vec<Hash>,
}

/// Why persisted frontier bytes are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored frontier for size {size} has {found} bytes, expected {expected}")]
pub struct FrontierError {
    pub size: u64,
    pub found: usize,
    pub expected: usize,
}

impl Frontier {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree roots, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Rebuilds a frontier from its size and the concatenated hashes (as persisted).
    pub fn from_parts(size: u64, bytes: &[u8]) -> Result<Self, FrontierError> {
        let expected = size.count_ones() as usize * 32;
        if bytes.len() != expected {
            return Err(FrontierError {
                size,
                found: bytes.len(),
                expected,
            });
        }
        let hashes = bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Ok(Self { size, hashes })
    }

    /// The hashes concatenated, for persisting.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.hashes.concat()
    }

    /// The perfect subtrees making up `[0, size)`, largest first: the nodes whose hashes a
    /// frontier of that size holds.
    pub fn node_ids(size: u64) -> Vec<NodeId> {
        let mut ids = Vec::new();
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if size & (1u64 << level) != 0 {
                ids.push(NodeId {
                    level,
                    index: start >> level,
                });
                start += 1u64 << level;
            }
        }
        ids
    }

    /// Builds a frontier from the hashes of `node_ids(size)`, in that order.
    pub fn from_node_hashes(size: u64, hashes: Vec<Hash>) -> Result<Self, FrontierError> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(FrontierError {
                size,
                found: hashes.len() * 32,
                expected: expected * 32,
            });
        }
        Ok(Self { size, hashes })
    }

    /// Appends one leaf hash. Every perfect subtree completed by it is passed to
    /// `completed` (the leaf itself included, at level 0), lowest first.
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(NodeId, &Hash)) {
        let index = self.size;
        completed(NodeId { level: 0, index }, &leaf);
        let mut hash = leaf;
        let mut level = 0u8;
        // Each trailing one bit of the old size is a subtree of equal height to merge with.
        while self.size & (1u64 << level) != 0 {
            let left = self.hashes.pop().unwrap_or_default();
            hash = node_hash(&left, &hash);
            level += 1;
            completed(
                NodeId {
                    level,
                    index: index >> level,
                },
                &hash,
            );
        }
        self.hashes.push(hash);
        self.size += 1;
        // One perfect subtree per set bit of the size, as `from_parts` checks of stored bytes.
        debug_assert_eq!(self.hashes.len(), self.size.count_ones() as usize);
    }

    /// The tree's root hash.
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// The perfect subtrees that make up the leaf range `[start, end)`, left to right, each the
/// largest aligned power of two that fits. The hash of the range, in the RFC 6962 sense, folds
/// these from the right: `node(P1, node(P2, P3))`. Valid for the ranges that occur in proofs,
/// whose `start` is aligned to a power of two at least `end - start`.
pub fn range_cover(start: u64, end: u64) -> Vec<NodeId> {
    let mut ids = Vec::new();
    let mut at = start;
    while at < end {
        let remaining = end - at;
        let mut level = 63 - remaining.leading_zeros() as u8;
        while at & ((1u64 << level) - 1) != 0 {
            level -= 1;
        }
        ids.push(NodeId {
            level,
            index: at >> level,
        });
        at += 1u64 << level;
    }
    ids
}

/// Folds perfect-subtree hashes, left to right, into the hash of their range.
pub fn fold_cover(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else {
        return empty_root();
    };
    iter.fold(*last, |acc, left| node_hash(left, &acc))
}

/// For a node that is not stored, the stored level below it and the range of stored indices
/// at that level whose hashes rebuild it.
pub fn stored_children(node: NodeId) -> (u8, u64, u64) {
    let drop = node.level % STORED_LEVEL_STEP;
    let level = node.level - drop;
    let start = node.index << drop;
    (level, start, start + (1u64 << drop))
}

/// Rebuilds the hash of `2^k` adjacent nodes of equal level.
pub fn fold_perfect(hashes: &[Hash]) -> Hash {
    let mut layer: Vec<Hash> = hashes.to_vec();
    while layer.len() > 1 {
        layer = layer
            .chunks(2)
            .map(|p| {
                if p.len() == 2 {
                    node_hash(&p[0], &p[1])
                } else {
                    p[0]
                }
            })
            .collect();
    }
    layer.first().copied().unwrap_or_else(empty_root)
}

/// Largest power of two strictly smaller than `n` (for `n >= 2`).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The leaf ranges whose hashes form the inclusion proof of leaf `index` in a tree of `size`,
/// in RFC 6962 order (nearest the leaf first). Empty if `index >= size`.
pub fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    if index >= size {
        return ranges;
    }
    let (mut lo, mut hi, mut m) = (0u64, size, index);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m < k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
            m -= k;
        }
    }
    ranges.reverse();
    ranges
}

/// The leaf ranges whose hashes form the consistency proof from `old_size` to `new_size`, in
/// RFC 6962 order. Empty when `old_size` is 0 or equal to `new_size`, or out of range.
pub fn consistency_ranges(old_size: u64, new_size: u64) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    if old_size == 0 || old_size >= new_size {
        return ranges;
    }
    let (mut lo, mut hi, mut m, mut complete) = (0u64, new_size, old_size, true);
    while m != hi - lo {
        let k = split_point(hi - lo);
        if m <= k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
            m -= k;
            complete = false;
        }
    }
    if !complete {
        ranges.push((lo, hi));
    }
    ranges.reverse();
    ranges
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("old size {old} is larger than new size {new}")]
    SizesOutOfOrder { old: u64, new: u64 },
    #[error("proof has {found} hashes, expected {expected}")]
    WrongLength { found: usize, expected: usize },
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

/// Verifies an inclusion proof (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_ranges(index, size).len();
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            found: proof.len(),
            expected,
        });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn == 0 && r == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verifies a consistency proof (RFC 9162 section 2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                found: proof.len(),
                expected: 0,
            });
        }
        return if old_size == 0 || old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let expected = consistency_ranges(old_size, new_size).len();
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            found: proof.len(),
            expected,
        });
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old_size.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let mut fr = path[0];
    let mut sr = path[0];
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::RootMismatch);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn == 0 && fr == *old_root && sr == *new_root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Builds a proof from the leaf hashes of a whole tree held in memory: for tests and tools
/// that already have every leaf (an auditor's archive), not for a live log.
pub fn proof_from_leaves(leaves: &[Hash], ranges: &[(u64, u64)]) -> Vec<Hash> {
    ranges
        .iter()
        .map(|&(a, b)| {
            let cover: Vec<Hash> = range_cover(a, b)
                .into_iter()
                .map(|id| {
                    let start = (id.index << id.level) as usize;
                    let end = start + (1usize << id.level);
                    fold_perfect(&leaves[start..end])
                })
                .collect();
            fold_cover(&cover)
        })
        .collect()
}

/// The root of a tree given all its leaf hashes (RFC 6962 MTH).
pub fn root_from_leaves(leaves: &[Hash]) -> Hash {
    let mut frontier = Frontier::new();
    for leaf in leaves {
        frontier.push(*leaf, |_, _| {});
    }
    frontier.root()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The two blocks laid out by hand are what the streaming hasher pads the same bytes to.
        #[test]
        fn node_hash_is_sha256_of_the_prefixed_pair(left in any::<Hash>(), right in any::<Hash>()) {
            let mut streamed = Sha256::new();
            streamed.update([1u8]);
            streamed.update(left);
            streamed.update(right);
            let expected: Hash = streamed.finalize().into();
            prop_assert_eq!(node_hash(&left, &right), expected);
        }
    }

    fn hex32(s: &str) -> Hash {
        let v = hex::decode(s).unwrap();
        v.try_into().unwrap()
    }

    struct Vectors {
        leaves: Vec<Hash>,
        roots: Vec<(u64, Hash)>,
        inclusion: Vec<(u64, u64, Vec<Hash>)>,
        consistency: Vec<(u64, u64, Vec<Hash>)>,
        empty_root: Hash,
    }

    fn vectors() -> Vectors {
        let json: serde_json::Value =
            serde_json::from_str(include_str!("../tests/rfc6962-vectors.json")).unwrap();
        let leaves = json["leaves_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| leaf_hash(&hex::decode(l.as_str().unwrap()).unwrap()))
            .collect();
        let roots = json["roots"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), hex32(v.as_str().unwrap())))
            .collect();
        let path = |v: &serde_json::Value| -> Vec<Hash> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|h| hex32(h.as_str().unwrap()))
                .collect()
        };
        let inclusion = json["inclusion"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["index"].as_u64().unwrap(),
                    c["tree_size"].as_u64().unwrap(),
                    path(&c["path"]),
                )
            })
            .collect();
        let consistency = json["consistency"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["old_size"].as_u64().unwrap(),
                    c["new_size"].as_u64().unwrap(),
                    path(&c["proof"]),
                )
            })
            .collect();
        Vectors {
            leaves,
            roots,
            inclusion,
            consistency,
            empty_root: hex32(json["empty_root"].as_str().unwrap()),
        }
    }

    #[test]
    fn roots_match_known_answers() {
        let v = vectors();
        assert_eq!(empty_root(), v.empty_root);
        assert_eq!(Frontier::new().root(), v.empty_root);
        assert_eq!(v.roots.len(), 8);
        for (size, root) in &v.roots {
            assert_eq!(
                root_from_leaves(&v.leaves[..*size as usize]),
                *root,
                "size {size}"
            );
        }
    }

    #[test]
    fn inclusion_proofs_match_known_answers_and_verify() {
        let v = vectors();
        assert!(!v.inclusion.is_empty());
        for (index, size, path) in &v.inclusion {
            let proof = proof_from_leaves(
                &v.leaves[..*size as usize],
                &inclusion_ranges(*index, *size),
            );
            assert_eq!(&proof, path, "index {index} size {size}");
            let root = root_from_leaves(&v.leaves[..*size as usize]);
            verify_inclusion(&v.leaves[*index as usize], *index, *size, path, &root).unwrap();
            if !path.is_empty() {
                let mut bad = path.clone();
                bad[0][0] ^= 1;
                assert!(
                    verify_inclusion(&v.leaves[*index as usize], *index, *size, &bad, &root)
                        .is_err()
                );
            }
            let other = (*index as usize + 1) % v.leaves.len();
            if v.leaves[other] != v.leaves[*index as usize] && *size > 1 {
                assert!(verify_inclusion(&v.leaves[other], *index, *size, path, &root).is_err());
            }
        }
    }

    #[test]
    fn consistency_proofs_match_known_answers_and_verify() {
        let v = vectors();
        assert!(!v.consistency.is_empty());
        for (old, new, path) in &v.consistency {
            let leaves = &v.leaves[..*new as usize];
            let proof = proof_from_leaves(leaves, &consistency_ranges(*old, *new));
            assert_eq!(&proof, path, "{old} -> {new}");
            let old_root = root_from_leaves(&v.leaves[..*old as usize]);
            let new_root = root_from_leaves(leaves);
            verify_consistency(*old, *new, path, &old_root, &new_root).unwrap();
            if !path.is_empty() {
                let mut bad = path.clone();
                let last = bad.len() - 1;
                bad[last][31] ^= 1;
                assert!(verify_consistency(*old, *new, &bad, &old_root, &new_root).is_err());
                assert!(verify_consistency(*old, *new, path, &new_root, &old_root).is_err());
            }
        }
    }

    #[test]
    fn frontier_round_trips_through_bytes_and_node_ids() {
        let leaves: Vec<Hash> = (0u32..37).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut f = Frontier::new();
        for l in &leaves {
            f.push(*l, |_, _| {});
        }
        let back = Frontier::from_parts(f.size(), &f.to_bytes()).unwrap();
        assert_eq!(back, f);
        assert!(Frontier::from_parts(37, &[0u8; 31]).is_err());
        let ids = Frontier::node_ids(37);
        assert_eq!(ids.len(), 3);
        let hashes: Vec<Hash> = ids
            .iter()
            .map(|id| {
                let start = (id.index << id.level) as usize;
                fold_perfect(&leaves[start..start + (1usize << id.level)])
            })
            .collect();
        assert_eq!(Frontier::from_node_hashes(37, hashes).unwrap(), f);
    }

    proptest! {
        #[test]
        fn proofs_verify_for_any_shape(size in 1u64..300, index_seed in any::<u64>(), old_seed in any::<u64>()) {
            let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let root = root_from_leaves(&leaves);
            let index = index_seed % size;
            let proof = proof_from_leaves(&leaves, &inclusion_ranges(index, size));
            prop_assert!(verify_inclusion(&leaves[index as usize], index, size, &proof, &root).is_ok());
            let old = old_seed % size + 1;
            let old_root = root_from_leaves(&leaves[..old as usize]);
            let proof = proof_from_leaves(&leaves, &consistency_ranges(old, size));
            prop_assert!(verify_consistency(old, size, &proof, &old_root, &root).is_ok());
        }

        #[test]
        fn push_reports_every_completed_node(size in 1u64..200) {
            let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let mut f = Frontier::new();
            let mut nodes = Vec::new();
            for l in &leaves {
                f.push(*l, |id, h| nodes.push((id, *h)));
            }
            for (id, h) in nodes {
                let start = (id.index << id.level) as usize;
                prop_assert_eq!(fold_perfect(&leaves[start..start + (1usize << id.level)]), h);
            }
        }
    }
}
