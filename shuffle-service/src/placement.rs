//! Which shuffle node owns a reduce partition: consistent hashing over the
//! configured node list, so adding or removing a node moves only about
//! `1/n` of the partitions, and every client with the same node list
//! agrees without asking anyone.
//!
//! Each node gets [`VIRTUAL_NODES`] points on a 64-bit ring; a partition
//! belongs to the first node clockwise of its own hash. `owners` walks on
//! to distinct nodes, which is where replicas go. Pure: no I/O.

/// Points per node on the ring: enough to spread partitions within a few
/// percent of even.
pub const VIRTUAL_NODES: u32 = 128;

/// A consistent-hash ring over node names (e.g. `host:port`).
#[derive(Debug, Clone)]
pub struct Placement {
    nodes: Vec<String>,
    ring: Vec<(u64, usize)>,
}

/// FNV-1a, then a splitmix64 finaliser: stable across builds and Rust
/// versions (unlike `DefaultHasher`), and well mixed for similar keys.
fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        h = (h ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl Placement {
    /// A ring over `nodes`; `None` if the list is empty.
    pub fn new(nodes: Vec<String>) -> Option<Self> {
        if nodes.is_empty() {
            return None;
        }
        let mut ring: Vec<(u64, usize)> = nodes
            .iter()
            .enumerate()
            .flat_map(|(index, node)| {
                (0..VIRTUAL_NODES).map(move |v| (hash(format!("{node}#{v}").as_bytes()), index))
            })
            .collect();
        ring.sort_unstable();
        Some(Self { nodes, ring })
    }

    /// The nodes, in configuration order.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }

    /// Up to `count` distinct nodes for a partition, owner first.
    pub fn owners(&self, job: &str, shuffle: u32, partition: u32, count: usize) -> Vec<usize> {
        let point = hash(format!("{job}/{shuffle}/{partition}").as_bytes());
        let start = self.ring.partition_point(|&(position, _)| position < point);
        let mut owners = Vec::with_capacity(count);
        for offset in 0..self.ring.len() {
            let (_, node) = self.ring[(start + offset) % self.ring.len()];
            if !owners.contains(&node) {
                owners.push(node);
                if owners.len() == count.min(self.nodes.len()) {
                    break;
                }
            }
        }
        owners
    }

    /// The node that owns a partition.
    pub fn owner(&self, job: &str, shuffle: u32, partition: u32) -> usize {
        self.owners(job, shuffle, partition, 1)
            .first()
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("shuffle-{i}.faro:7077")).collect()
    }

    #[test]
    fn partitions_spread_evenly() {
        let placement = Placement::new(nodes(4)).unwrap();
        let mut counts = [0usize; 4];
        for partition in 0..10_000 {
            counts[placement.owner("job", 0, partition)] += 1;
        }
        for count in counts {
            assert!((2000..3000).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn adding_a_node_moves_about_a_fifth_of_the_partitions() {
        let four = Placement::new(nodes(4)).unwrap();
        let five = Placement::new(nodes(5)).unwrap();
        let moved = (0..10_000)
            .filter(|&p| {
                four.nodes()[four.owner("job", 3, p)] != five.nodes()[five.owner("job", 3, p)]
            })
            .count();
        assert!((1500..2600).contains(&moved), "{moved} of 10000 moved");
    }

    #[test]
    fn replicas_are_distinct_nodes_and_the_owner_comes_first() {
        let placement = Placement::new(nodes(3)).unwrap();
        for partition in 0..100 {
            let owners = placement.owners("j", 1, partition, 2);
            assert_eq!(owners.len(), 2);
            assert_ne!(owners[0], owners[1]);
            assert_eq!(owners[0], placement.owner("j", 1, partition));
        }
        assert_eq!(
            placement.owners("j", 1, 0, 5).len(),
            3,
            "never more than the nodes"
        );
        assert!(Placement::new(Vec::new()).is_none());
    }

    #[test]
    fn every_client_agrees() {
        let a = Placement::new(nodes(3)).unwrap();
        let b = Placement::new(nodes(3)).unwrap();
        assert!((0..1000).all(|p| a.owner("x", 0, p) == b.owner("x", 0, p)));
    }
}
