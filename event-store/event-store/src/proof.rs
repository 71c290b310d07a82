//! Proofs served from storage: any subtree hash is rebuilt from the few hashes backends keep
//! (leaf hashes and every fourth level), so a proof costs O(log n) small reads, never a scan.

use event_store_core::merkle::{self, NodeId};
use event_store_core::{Hash, LogSeq};

use crate::backend::Backend;
use crate::error::StoreError;

/// Where proofs read their hashes from: a node's own log ([`Backend`]), or any other store that
/// keeps a log's leaf hashes and every fourth level of its tree (the association's verified
/// copy of each node's log).
pub trait TreeHashes: Sync {
    /// How many leaves the tree has.
    fn tree_size(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// The stored hashes of nodes `start..end` at a stored level (level 0: leaf hashes), as
    /// `(index, hash)` in index order. Missing nodes are simply absent.
    fn tree_hashes(
        &self,
        level: u8,
        start: u64,
        end: u64,
    ) -> impl Future<Output = Result<Vec<(u64, Hash)>, StoreError>> + Send;
}

impl<B: Backend> TreeHashes for B {
    async fn tree_size(&self) -> Result<u64, StoreError> {
        Ok(self.head().await?.size())
    }

    async fn tree_hashes(
        &self,
        level: u8,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Hash)>, StoreError> {
        self.read_hashes(level, start, end).await
    }
}

/// The hash of one perfect subtree, from stored hashes.
pub async fn subtree_hash<B: TreeHashes>(backend: &B, node: NodeId) -> Result<Hash, StoreError> {
    let (level, start, end) = merkle::stored_children(node);
    let hashes = backend.tree_hashes(level, start, end).await?;
    let complete = hashes.len() as u64 == end - start
        && hashes
            .iter()
            .enumerate()
            .all(|(i, (index, _))| *index == start + i as u64);
    if !complete {
        return Err(StoreError::Corrupt(format!(
            "missing stored hashes at level {level} for indices {start}..{end}"
        )));
    }
    let hashes: Vec<Hash> = hashes.into_iter().map(|(_, h)| h).collect();
    Ok(merkle::fold_perfect(&hashes))
}

/// The RFC 6962 hash of the leaf range `[start, end)` (a range of the shape proofs use).
pub async fn range_hash<B: TreeHashes>(
    backend: &B,
    start: u64,
    end: u64,
) -> Result<Hash, StoreError> {
    let mut hashes = Vec::new();
    for node in merkle::range_cover(start, end) {
        hashes.push(subtree_hash(backend, node).await?);
    }
    Ok(merkle::fold_cover(&hashes))
}

/// The root of the tree of the first `size` events.
pub async fn root_at<B: TreeHashes>(backend: &B, size: u64) -> Result<Hash, StoreError> {
    check_size(backend, size).await?;
    range_hash(backend, 0, size).await
}

async fn check_size<B: TreeHashes>(backend: &B, size: u64) -> Result<(), StoreError> {
    let have = backend.tree_size().await?;
    if size > have {
        return Err(StoreError::OutOfRange {
            what: "tree size",
            detail: format!("{size} is larger than the log's {have} events"),
        });
    }
    Ok(())
}

/// The inclusion proof of event `seq` in the tree of `tree_size` events.
pub async fn inclusion_proof<B: TreeHashes>(
    backend: &B,
    seq: LogSeq,
    tree_size: u64,
) -> Result<Vec<Hash>, StoreError> {
    if seq.0 == 0 || seq.0 > tree_size {
        return Err(StoreError::OutOfRange {
            what: "sequence",
            detail: format!("{} is not in a tree of {tree_size} events", seq.0),
        });
    }
    check_size(backend, tree_size).await?;
    let mut proof = Vec::new();
    for (a, b) in merkle::inclusion_ranges(seq.0 - 1, tree_size) {
        proof.push(range_hash(backend, a, b).await?);
    }
    Ok(proof)
}

/// The consistency proof from the tree of `old_size` events to that of `new_size`.
pub async fn consistency_proof<B: TreeHashes>(
    backend: &B,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, StoreError> {
    if old_size > new_size {
        return Err(StoreError::OutOfRange {
            what: "tree sizes",
            detail: format!("old size {old_size} is larger than new size {new_size}"),
        });
    }
    check_size(backend, new_size).await?;
    let mut proof = Vec::new();
    for (a, b) in merkle::consistency_ranges(old_size, new_size) {
        proof.push(range_hash(backend, a, b).await?);
    }
    Ok(proof)
}
