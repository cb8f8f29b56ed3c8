//! Chunking a dataset into padded blocks and computing its tree root
//! (`treeCid`), exactly as a Codex node does (spec 4.2–4.3).

use cid::Cid;
use sha2::{Digest, Sha256};

use crate::cid::{ROOT_CODEC, cid_of_digest};

/// The block size of every upload unless the caller asks otherwise (spec 4.2).
pub const DEFAULT_BLOCK_SIZE: usize = 65_536;

/// The sha2-256 digest of one (already padded) block.
pub fn block_digest(block: &[u8]) -> [u8; 32] {
    Sha256::digest(block).into()
}

/// The tree root over the block digests, or `None` for no block (the node's
/// "Empty leaves" error).
///
/// `compress(x, y, key) = sha256(x ‖ y ‖ key)`; the bottom layer uses keys 1
/// (pair) and 3 (odd last node, paired with zeros), higher layers 0 and 2. The
/// bottom layer is compressed even when it has one leaf.
pub fn tree_root(leaves: &[[u8; 32]]) -> Option<[u8; 32]> {
    if leaves.is_empty() {
        return None;
    }
    let compress = |x: &[u8; 32], y: &[u8; 32], key: u8| -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(x);
        h.update(y);
        h.update([key]);
        h.finalize().into()
    };
    let mut layer = leaves.to_vec();
    let mut bottom = true;
    loop {
        let (pair_key, odd_key) = if bottom { (1, 3) } else { (0, 2) };
        layer = layer
            .chunks(2)
            .map(|pair| match pair {
                [x, y] => compress(x, y, pair_key),
                [x] => compress(x, &[0; 32], odd_key),
                _ => unreachable!("chunks(2) yields one or two"),
            })
            .collect();
        bottom = false;
        if layer.len() == 1 {
            return Some(layer[0]);
        }
    }
}

/// The `treeCid` of a dataset whose blocks have `leaves` as digests.
pub fn tree_cid(leaves: &[[u8; 32]]) -> Option<Cid> {
    tree_root(leaves).map(|root| cid_of_digest(ROOT_CODEC, &root))
}

/// Hashes a byte stream block by block without keeping it: what a client needs
/// to check a download against its manifest.
#[derive(Clone, Debug)]
pub struct TreeHasher {
    block_size: usize,
    hasher: Sha256,
    in_block: usize,
    leaves: Vec<[u8; 32]>,
    len: u64,
}

impl TreeHasher {
    /// A hasher for blocks of `block_size` bytes (non-zero).
    pub fn new(block_size: usize) -> TreeHasher {
        assert!(block_size > 0, "a block has at least one byte");
        TreeHasher {
            block_size,
            hasher: Sha256::new(),
            in_block: 0,
            leaves: Vec::new(),
            len: 0,
        }
    }

    /// Feeds the next bytes of the dataset.
    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        while !data.is_empty() {
            let take = (self.block_size - self.in_block).min(data.len());
            self.hasher.update(&data[..take]);
            self.in_block += take;
            data = &data[take..];
            if self.in_block == self.block_size {
                self.leaves.push(self.hasher.finalize_reset().into());
                self.in_block = 0;
            }
        }
    }

    /// Bytes fed so far: the dataset size.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Pads the last block with zeros and returns every block digest.
    pub fn finish(mut self) -> Vec<[u8; 32]> {
        if self.in_block > 0 {
            let zeros = vec![0u8; self.block_size - self.in_block];
            self.hasher.update(&zeros);
            self.leaves.push(self.hasher.finalize().into());
        }
        self.leaves
    }
}

/// Cuts a byte stream into padded blocks that are kept, for a node that stores
/// them.
#[derive(Debug)]
pub struct BlockSplitter {
    block_size: usize,
    buf: Vec<u8>,
    len: u64,
}

impl BlockSplitter {
    /// A splitter for blocks of `block_size` bytes (non-zero).
    pub fn new(block_size: usize) -> BlockSplitter {
        assert!(block_size > 0, "a block has at least one byte");
        BlockSplitter {
            block_size,
            buf: Vec::with_capacity(block_size),
            len: 0,
        }
    }

    /// Takes bytes from the front of `data` until a block is full and returns
    /// it; `None` once `data` is used up without filling one. Call in a loop.
    pub fn next_block(&mut self, data: &mut &[u8]) -> Option<Vec<u8>> {
        let take = (self.block_size - self.buf.len()).min(data.len());
        self.buf.extend_from_slice(&data[..take]);
        self.len += take as u64;
        *data = &data[take..];
        (self.buf.len() == self.block_size)
            .then(|| std::mem::replace(&mut self.buf, Vec::with_capacity(self.block_size)))
    }

    /// The last, zero-padded block, if any bytes are left.
    pub fn finish(mut self) -> Option<Vec<u8>> {
        if self.buf.is_empty() {
            return None;
        }
        self.buf.resize(self.block_size, 0);
        Some(self.buf)
    }

    /// Bytes taken so far: the dataset size.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was taken.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use proptest::{collection::vec, prelude::*};

    use super::*;

    #[test]
    fn hasher_and_splitter_agree_at_every_boundary() {
        for len in [1usize, 4095, 4096, 4097, 3 * 4096, 5 * 4096 + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut hasher = TreeHasher::new(4096);
            for piece in data.chunks(1000) {
                hasher.update(piece);
            }
            let mut splitter = BlockSplitter::new(4096);
            let mut leaves = Vec::new();
            let mut rest = data.as_slice();
            while let Some(block) = splitter.next_block(&mut rest) {
                leaves.push(block_digest(&block));
            }
            assert_eq!(splitter.len(), len as u64);
            if let Some(block) = splitter.finish() {
                assert_eq!(block.len(), 4096, "the last block is padded");
                leaves.push(block_digest(&block));
            }
            assert_eq!(hasher.len(), len as u64);
            assert_eq!(hasher.finish(), leaves, "len {len}");
            assert_eq!(leaves.len(), len.div_ceil(4096));
        }
    }

    #[test]
    fn single_leaf_is_still_compressed_and_odd_nodes_pair_with_zeros() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        let c = [3u8; 32];
        let h = |parts: &[&[u8]]| -> [u8; 32] {
            let mut s = Sha256::new();
            for p in parts {
                s.update(p);
            }
            s.finalize().into()
        };
        assert_eq!(tree_root(&[a]), Some(h(&[&a, &[0; 32], &[3]])));
        let ab = h(&[&a, &b, &[1]]);
        assert_eq!(tree_root(&[a, b]), Some(ab));
        let c0 = h(&[&c, &[0; 32], &[3]]);
        assert_eq!(tree_root(&[a, b, c]), Some(h(&[&ab, &c0, &[0]])));
        assert_eq!(tree_root(&[]), None);
    }

    /// Any data, fed in any pieces, with any block size.
    fn data_in_pieces() -> impl Strategy<Value = (usize, Vec<u8>, Vec<usize>)> {
        (
            1usize..300,
            vec(any::<u8>(), 0..2_000),
            vec(0usize..400, 0..12),
        )
    }

    proptest! {
        /// Spec 4.2: a dataset is cut into `ceil(len / block size)` blocks,
        /// the last one padded with zeros; the blocks give back the data,
        /// and the streaming hasher sees the same blocks however the bytes
        /// arrive.
        #[test]
        fn chunking_pads_only_the_last_block_and_hasher_agrees(
            (block_size, data, cuts) in data_in_pieces()
        ) {
            let mut splitter = BlockSplitter::new(block_size);
            let mut hasher = TreeHasher::new(block_size);
            let mut blocks = Vec::new();
            let mut rest = data.as_slice();
            for cut in cuts.iter().chain([&usize::MAX]) {
                let (mut piece, tail) = rest.split_at((*cut).min(rest.len()));
                hasher.update(piece);
                while let Some(block) = splitter.next_block(&mut piece) {
                    blocks.push(block);
                }
                rest = tail;
            }
            prop_assert_eq!(splitter.len(), data.len() as u64);
            blocks.extend(splitter.finish());
            prop_assert_eq!(blocks.len(), data.len().div_ceil(block_size));
            prop_assert!(blocks.iter().all(|b| b.len() == block_size));
            let joined = blocks.concat();
            prop_assert_eq!(&joined[..data.len()], &data[..]);
            prop_assert!(joined[data.len()..].iter().all(|&b| b == 0));
            let leaves: Vec<[u8; 32]> = blocks.iter().map(|b| block_digest(b)).collect();
            prop_assert_eq!(hasher.len(), data.len() as u64);
            prop_assert_eq!(hasher.finish(), leaves);
        }

        /// Spec 4.3's layers, seen from the top: a tree of n > 2 leaves is
        /// the key-0 compression of its first 2^k leaves' root (the largest
        /// power of two below n) and the rest's root, lifted to the same
        /// height as an odd node is, by pairing with zeros under key 2.
        #[test]
        fn a_tree_is_its_full_left_part_and_its_lifted_rest(n in 3usize..200, seed in any::<u8>()) {
            let leaves: Vec<[u8; 32]> =
                (0..n).map(|i| [seed.wrapping_add(i as u8), (i >> 8) as u8, 1, 2].repeat(8).try_into().unwrap()).collect();
            // Height of a tree of m leaves: the bottom layer always counts.
            let height = |m: usize| m.next_power_of_two().trailing_zeros().max(1);
            let left = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            let compress = |x: &[u8; 32], y: &[u8; 32], key: u8| -> [u8; 32] {
                Sha256::new().chain_update(x).chain_update(y).chain_update([key]).finalize().into()
            };
            let mut right = tree_root(&leaves[left..]).unwrap();
            for _ in height(n - left)..height(left) {
                right = compress(&right, &[0; 32], 2);
            }
            let expected = compress(&tree_root(&leaves[..left]).unwrap(), &right, 0);
            prop_assert_eq!(tree_root(&leaves), Some(expected));
        }

        /// Every leaf and its position count: changing one leaf, swapping two
        /// different leaves, or adding an explicit zero leaf where the odd
        /// one was paired with zeros all give another root (keys 3 and 2
        /// keep "odd" apart from "paired with a zero leaf").
        #[test]
        fn the_root_commits_to_every_leaf_and_its_place(
            leaves in vec(any::<[u8; 32]>(), 1..40),
            at in any::<proptest::sample::Index>(),
            other in any::<proptest::sample::Index>(),
            bit in 0u8..8,
        ) {
            let root = tree_root(&leaves).unwrap();
            let (i, j) = (at.index(leaves.len()), other.index(leaves.len()));

            let mut flipped = leaves.clone();
            flipped[i][0] ^= 1 << bit;
            prop_assert_ne!(tree_root(&flipped).unwrap(), root);

            if leaves[i] != leaves[j] {
                let mut swapped = leaves.clone();
                swapped.swap(i, j);
                prop_assert_ne!(tree_root(&swapped).unwrap(), root);
            }

            if leaves.len() % 2 == 1 {
                let mut padded = leaves.clone();
                padded.push([0; 32]);
                prop_assert_ne!(tree_root(&padded).unwrap(), root);
            }
            let cid = tree_cid(&leaves).unwrap();
            prop_assert_eq!(cid.codec(), ROOT_CODEC);
            prop_assert_eq!(crate::cid::sha256_digest(&cid), Some(root));
        }
    }
}
