//! Which CPU each shard's worker runs on and which node holds its memory.
//!
//! [`plan`] is a pure function of the topology and the allowed CPUs, so the
//! placement of a 2-, 4- or 8-node machine can be tested on any machine.

use crate::error::{Error, Result, Status};
use crate::topology::{cpu_list, Topology};

/// Where one shard lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardPlacement {
    /// The shard's index, 0-based; shards are numbered node by node.
    pub shard: usize,
    /// The NUMA node of `cpu`.
    pub node: u32,
    /// The CPU (Linux CPU number) the shard's worker is pinned to.
    pub cpu: u32,
    /// The node the shard's memory is bound to: `node`, unless placement was
    /// asked to misplace memory on purpose.
    pub memory_node: u32,
}

/// CPUs the calling thread may run on (sched_getaffinity), sorted.
///
/// Empty only if the kernel refuses to say.
pub fn allowed_cpus() -> Vec<u32> {
    const WORD_BITS: usize = libc::c_ulong::BITS as usize;
    // glibc's cpu_set_t holds 1024 CPUs; the kernel rejects a mask shorter
    // than its own CPU count with EINVAL, so grow until it fits.
    let mut words = 1024 / WORD_BITS;
    loop {
        let mut mask: Vec<libc::c_ulong> = vec![0; words];
        let bytes = words * std::mem::size_of::<libc::c_ulong>();
        // SAFETY: the kernel writes at most `bytes` bytes into `mask`, which
        // owns exactly that many; pid 0 is the calling thread.
        let written = unsafe { libc::syscall(libc::SYS_sched_getaffinity, 0, bytes, mask.as_mut_ptr()) };
        if written > 0 {
            return (0..mask.len() * WORD_BITS)
                .filter(|&cpu| mask[cpu / WORD_BITS] & (1 << (cpu % WORD_BITS)) != 0)
                .map(|cpu| cpu as u32)
                .collect();
        }
        let too_small = std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL);
        if !too_small || words >= (1 << 20) / WORD_BITS {
            return Vec::new();
        }
        words *= 2;
    }
}

/// Spread shards over the allowed CPUs node by node.
///
/// * Usable CPUs are the topology's CPUs that are in `allowed`. For a
///   topology that is not this system `allowed` describes a different
///   machine, so unless it covers all of the topology's CPUs the topology's
///   own CPUs are used.
/// * `nodes` restricts placement to those nodes, in the order given;
///   otherwise every node with a usable CPU is used, by increasing index.
///   An unknown node, or one without usable CPUs, is a [`Status::Topology`]
///   error; an empty or repeating list is [`Status::InvalidArgument`].
/// * `shards_per_node` (one count per used node, in their order, not all 0)
///   fixes the count on each node and overrides `shards`. Otherwise
///   `shards == 0` gives one shard per usable CPU, and any other value gives
///   exactly that many, shared out in proportion to each node's usable CPUs
///   (largest remainders first, ties to the earlier node), so nodes with
///   equal CPU counts differ by at most one shard.
/// * Shards are numbered node by node; within a node they take its usable
///   CPUs round-robin, wrapping when there are more shards than CPUs.
/// * `memory_node` is the shard's node or, with `misplace_memory`, the next
///   used node (cyclically; with one used node, the same node).
pub fn plan(
    topo: &Topology,
    allowed: &[u32],
    shards: usize,
    nodes: Option<&[u32]>,
    shards_per_node: Option<&[usize]>,
    misplace_memory: bool,
) -> Result<Vec<ShardPlacement>> {
    check_lists(nodes, shards_per_node)?;
    let usable = usable_cpus(topo, allowed)?;
    let used = used_nodes(topo, &usable, nodes)?;
    let counts = shard_counts(&used, shards, shards_per_node)?;

    let total: usize = counts.iter().sum();
    let mut placements = Vec::new();
    placements
        .try_reserve_exact(total)
        .map_err(|_| Error::with_detail(Status::Resource, format!("cannot hold a placement for {total} shards")))?;
    for (k, (used_node, &count)) in used.iter().zip(&counts).enumerate() {
        let memory_node = if misplace_memory { used[(k + 1) % used.len()].node } else { used_node.node };
        for j in 0..count {
            placements.push(ShardPlacement {
                shard: placements.len(),
                node: used_node.node,
                cpu: used_node.cpus[j % used_node.cpus.len()],
                memory_node,
            });
        }
    }
    Ok(placements)
}

/// A node selected for placement, with its usable CPUs (never empty).
struct UsedNode {
    node: u32,
    cpus: Vec<u32>,
}

fn topology_error(detail: impl Into<String>) -> Error {
    Error::with_detail(Status::Topology, detail)
}

fn invalid(detail: impl Into<String>) -> Error {
    Error::with_detail(Status::InvalidArgument, detail)
}

fn usable_cpus(topo: &Topology, allowed: &[u32]) -> Result<Vec<u32>> {
    let all = topo.cpus();
    let mut allowed = allowed.to_vec();
    allowed.sort_unstable();
    let mut usable: Vec<u32> = all.iter().copied().filter(|c| allowed.binary_search(c).is_ok()).collect();
    if !topo.is_this_system && usable.len() < all.len() {
        usable = all;
    }
    if usable.is_empty() {
        return Err(topology_error(format!(
            "none of the topology's CPUs ({}) is allowed (allowed: {})",
            cpu_list(&topo.cpus()),
            cpu_list(&allowed)
        )));
    }
    Ok(usable)
}

/// The checks of `nodes` and `shards_per_node` that need no topology (the
/// configuration's own, `Config::check`, and the start of [`plan`]): a list
/// of nodes that is empty or names a node twice, counts per node of another
/// length than the nodes listed, or asking for no shard (or more than a
/// `usize` can count) are `InvalidArgument`.
pub(crate) fn check_lists(nodes: Option<&[u32]>, shards_per_node: Option<&[usize]>) -> Result<()> {
    if let Some(nodes) = nodes {
        if nodes.is_empty() {
            return Err(invalid("the list of nodes to use is empty"));
        }
        if let Some(twice) = nodes.iter().enumerate().find_map(|(i, n)| nodes[..i].contains(n).then_some(n)) {
            return Err(invalid(format!("node {twice} is listed twice")));
        }
    }
    if let Some(per_node) = shards_per_node {
        if let Some(nodes) = nodes.filter(|n| n.len() != per_node.len()) {
            return Err(invalid(format!("shards_per_node has {} entries for {} nodes", per_node.len(), nodes.len())));
        }
        match per_node.iter().try_fold(0usize, |sum, &n| sum.checked_add(n)) {
            Some(0) => return Err(invalid("shards_per_node asks for no shard at all")),
            None => return Err(invalid("shards_per_node overflows")),
            Some(_) => {}
        }
    }
    Ok(())
}

fn used_nodes(topo: &Topology, usable: &[u32], nodes: Option<&[u32]>) -> Result<Vec<UsedNode>> {
    let usable_on =
        |cpus: &[u32]| -> Vec<u32> { cpus.iter().copied().filter(|c| usable.binary_search(c).is_ok()).collect() };
    let Some(wanted) = nodes else {
        return Ok(topo
            .nodes
            .iter()
            .map(|n| UsedNode { node: n.os_index, cpus: usable_on(&n.cpus) })
            .filter(|n| !n.cpus.is_empty())
            .collect());
    };
    let mut used: Vec<UsedNode> = Vec::with_capacity(wanted.len());
    for &id in wanted {
        let known: Vec<u32> = topo.nodes.iter().map(|n| n.os_index).collect();
        let node = topo.nodes.iter().find(|n| n.os_index == id).ok_or_else(|| {
            topology_error(format!("unknown NUMA node {id}; the topology has nodes {}", cpu_list(&known)))
        })?;
        let cpus = usable_on(&node.cpus);
        if cpus.is_empty() {
            return Err(topology_error(format!(
                "NUMA node {id} has no usable CPU (its CPUs: {})",
                cpu_list(&node.cpus)
            )));
        }
        used.push(UsedNode { node: id, cpus });
    }
    Ok(used)
}

fn shard_counts(used: &[UsedNode], shards: usize, shards_per_node: Option<&[usize]>) -> Result<Vec<usize>> {
    if let Some(per_node) = shards_per_node {
        if per_node.len() != used.len() {
            return Err(invalid(format!(
                "shards_per_node has {} entries for {} used nodes",
                per_node.len(),
                used.len()
            )));
        }
        return Ok(per_node.to_vec()); // its sum was checked (check_lists)
    }
    let weights: Vec<usize> = used.iter().map(|n| n.cpus.len()).collect();
    if shards == 0 {
        return Ok(weights);
    }
    Ok(proportional(shards, &weights))
}

/// Splits `total` in proportion to `weights` (largest remainder method).
fn proportional(total: usize, weights: &[usize]) -> Vec<usize> {
    // u128 so that `total * weight` cannot overflow.
    let sum: u128 = weights.iter().map(|&w| w as u128).sum();
    let mut counts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let exact = total as u128 * w as u128;
        counts.push((exact / sum) as usize);
        remainders.push((exact % sum, i));
    }
    let left = total - counts.iter().sum::<usize>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take(left) {
        counts[i] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{NodeInfo, TopologySource};
    use proptest::prelude::*;

    /// A topology with the given CPUs per node (node ids 0..).
    fn fake(nodes: &[&[u32]], is_this_system: bool) -> Topology {
        Topology {
            source: TopologySource::Synthetic("test".into()),
            is_this_system,
            nodes: nodes
                .iter()
                .enumerate()
                .map(|(i, cpus)| NodeInfo { os_index: i as u32, cpus: cpus.to_vec(), memory_bytes: 0 })
                .collect(),
        }
    }

    fn synthetic(desc: &str) -> Topology {
        Topology::load(&TopologySource::Synthetic(desc.into())).unwrap()
    }

    fn per_node(topo: &Topology, placements: &[ShardPlacement]) -> Vec<usize> {
        topo.nodes.iter().map(|n| placements.iter().filter(|p| p.node == n.os_index).count()).collect()
    }

    /// Checks what every plan must satisfy.
    fn check_invariants(topo: &Topology, placements: &[ShardPlacement]) {
        for (i, p) in placements.iter().enumerate() {
            assert_eq!(p.shard, i, "shards are numbered in order");
            assert_eq!(topo.node_of_cpu(p.cpu), Some(p.node), "cpu {} is not on node {}", p.cpu, p.node);
        }
        // Node by node: once a node's shards end, that node never comes back.
        let mut seen = Vec::new();
        for w in placements.windows(2) {
            if w[0].node != w[1].node {
                seen.push(w[0].node);
                assert!(!seen.contains(&w[1].node), "shards of node {} are not contiguous", w[1].node);
            }
        }
    }

    fn spread(counts: &[usize]) -> usize {
        counts.iter().max().unwrap() - counts.iter().min().unwrap()
    }

    #[test]
    fn zero_shards_means_one_per_usable_cpu() {
        for desc in ["pack:2 [numa] core:2 pu:1", "pack:4 [numa] core:2 pu:1", "numa:8 core:1 pu:1"] {
            let topo = synthetic(desc);
            let plan = plan(&topo, &[0, 1], 0, None, None, false).unwrap();
            check_invariants(&topo, &plan);
            let cpus: Vec<u32> = plan.iter().map(|p| p.cpu).collect();
            assert_eq!(cpus, topo.cpus(), "{desc}: a synthetic topology plans over its own CPUs");
            assert!(plan.iter().all(|p| p.memory_node == p.node));
        }
    }

    #[test]
    fn explicit_shard_count_is_exact_and_balanced() {
        for desc in ["pack:2 [numa] core:2 pu:1", "pack:4 [numa] core:2 pu:1", "pack:8 [numa] core:1 pu:1"] {
            let topo = synthetic(desc);
            for shards in [1, 2, 3, 5, 7, 8, 9, 16, 17, 100] {
                let plan = plan(&topo, &[], shards, None, None, false).unwrap();
                assert_eq!(plan.len(), shards, "{desc}");
                check_invariants(&topo, &plan);
                let counts = per_node(&topo, &plan);
                assert!(spread(&counts) <= 1, "{desc} with {shards} shards: {counts:?}");
            }
        }
    }

    #[test]
    fn more_shards_than_cpus_wrap_round_robin() {
        let topo = synthetic("pack:2 [numa] core:2 pu:1");
        let plan = plan(&topo, &[], 10, None, None, false).unwrap();
        let cpus: Vec<u32> = plan.iter().map(|p| p.cpu).collect();
        assert_eq!(cpus, vec![0, 1, 0, 1, 0, 2, 3, 2, 3, 2]);
    }

    #[test]
    fn shards_follow_cpu_counts_on_unequal_nodes() {
        let topo = fake(&[&[0, 1, 2, 3, 4, 5], &[6, 7]], false);
        let plan = plan(&topo, &[], 4, None, None, false).unwrap();
        assert_eq!(per_node(&topo, &plan), vec![3, 1]);
        let plan = super::plan(&topo, &[], 0, None, None, false).unwrap();
        assert_eq!(per_node(&topo, &plan), vec![6, 2]);
    }

    #[test]
    fn shards_per_node_is_respected() {
        let topo = synthetic("pack:4 [numa] core:2 pu:1");
        let plan = plan(&topo, &[], 99, None, Some(&[3, 0, 1, 5]), false).unwrap();
        check_invariants(&topo, &plan);
        assert_eq!(per_node(&topo, &plan), vec![3, 0, 1, 5]);
        let nodes: Vec<u32> = plan.iter().map(|p| p.node).collect();
        assert_eq!(nodes, vec![0, 0, 0, 2, 3, 3, 3, 3, 3]);

        // With a node list, counts follow that list's order.
        let plan = super::plan(&topo, &[], 0, Some(&[3, 1]), Some(&[1, 2]), false).unwrap();
        let nodes: Vec<u32> = plan.iter().map(|p| p.node).collect();
        assert_eq!(nodes, vec![3, 1, 1]);
    }

    #[test]
    fn bad_shards_per_node_is_invalid_argument() {
        let topo = synthetic("pack:2 [numa] core:2 pu:1");
        for counts in [&[1][..], &[1, 1, 1], &[0, 0], &[usize::MAX, 1]] {
            let err = plan(&topo, &[], 0, None, Some(counts), false).unwrap_err();
            assert_eq!(err.status(), Status::InvalidArgument, "{counts:?}");
        }
    }

    #[test]
    fn node_restriction_is_respected() {
        let topo = synthetic("pack:4 [numa] core:2 pu:1");
        let plan = plan(&topo, &[], 0, Some(&[1, 3]), None, false).unwrap();
        check_invariants(&topo, &plan);
        assert_eq!(plan.iter().map(|p| p.cpu).collect::<Vec<_>>(), vec![2, 3, 6, 7]);
        let plan = super::plan(&topo, &[], 5, Some(&[2]), None, false).unwrap();
        assert!(plan.iter().all(|p| p.node == 2 && p.memory_node == 2));
        assert_eq!(plan.len(), 5);
    }

    #[test]
    fn unknown_or_empty_node_is_rejected() {
        let topo = synthetic("pack:2 [numa] core:2 pu:1");
        let err = plan(&topo, &[], 0, Some(&[0, 2]), None, false).unwrap_err();
        assert_eq!(err.status(), Status::Topology);
        assert!(err.detail().unwrap().contains("unknown NUMA node 2"), "{err}");

        // On this system node 1 has CPUs, but none of them is allowed.
        let topo = fake(&[&[0, 1], &[2, 3]], true);
        let err = plan(&topo, &[0, 1], 0, Some(&[1]), None, false).unwrap_err();
        assert_eq!(err.status(), Status::Topology);
        assert!(err.detail().unwrap().contains("no usable CPU"), "{err}");

        assert_eq!(plan(&topo, &[0, 1], 0, Some(&[]), None, false).unwrap_err().status(), Status::InvalidArgument);
        assert_eq!(plan(&topo, &[0, 1], 0, Some(&[0, 0]), None, false).unwrap_err().status(), Status::InvalidArgument);
    }

    #[test]
    fn this_system_plans_only_over_allowed_cpus() {
        let topo = fake(&[&[0, 1], &[2, 3]], true);
        let plan = plan(&topo, &[1, 2, 9], 0, None, None, false).unwrap();
        assert_eq!(plan.iter().map(|p| (p.node, p.cpu)).collect::<Vec<_>>(), vec![(0, 1), (1, 2)]);
        // Node 0 has no allowed CPU, so it is not used at all.
        let plan = super::plan(&topo, &[3], 4, None, None, false).unwrap();
        assert!(plan.iter().all(|p| p.node == 1 && p.cpu == 3));
        let err = super::plan(&topo, &[7], 0, None, None, false).unwrap_err();
        assert_eq!(err.status(), Status::Topology);
    }

    #[test]
    fn foreign_topology_ignores_a_partial_allowed_set() {
        let topo = fake(&[&[0, 1], &[2, 3]], false);
        let plan = plan(&topo, &[1, 2], 0, None, None, false).unwrap();
        assert_eq!(plan.len(), 4);
    }

    #[test]
    fn misplaced_memory_goes_to_the_next_node() {
        for desc in ["pack:2 [numa] core:2 pu:1", "pack:4 [numa] core:2 pu:1", "numa:8 core:1 pu:1"] {
            let topo = synthetic(desc);
            let plan = plan(&topo, &[], 0, None, None, true).unwrap();
            check_invariants(&topo, &plan);
            let n = topo.nodes.len() as u32;
            for p in &plan {
                assert_ne!(p.memory_node, p.node, "{desc}");
                assert_eq!(p.memory_node, (p.node + 1) % n, "{desc}");
            }
        }
        let topo = synthetic("pack:4 [numa] core:2 pu:1");
        let plan = plan(&topo, &[], 0, Some(&[3, 1]), None, true).unwrap();
        assert!(plan.iter().all(|p| p.memory_node == if p.node == 3 { 1 } else { 3 }));
        let plan = super::plan(&topo, &[], 0, Some(&[2]), None, true).unwrap();
        assert!(plan.iter().all(|p| p.memory_node == 2), "one node: memory stays home");
    }

    #[test]
    fn plan_is_deterministic_on_this_system() {
        let topo = Topology::load(&TopologySource::System).unwrap();
        let allowed = allowed_cpus();
        let a = plan(&topo, &allowed, 0, None, None, false).unwrap();
        let b = plan(&topo, &allowed, 0, None, None, false).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.iter().map(|p| p.cpu).collect::<Vec<_>>(), allowed);
        check_invariants(&topo, &a);
    }

    #[test]
    fn allowed_cpus_match_the_affinity_mask() {
        let allowed = allowed_cpus();
        assert!(!allowed.is_empty());
        assert!(allowed.windows(2).all(|w| w[0] < w[1]));
        let ids: Vec<u32> = core_affinity::get_core_ids().unwrap().iter().map(|c| c.id as u32).collect();
        assert_eq!(allowed, ids);
    }

    proptest! {
        #[test]
        fn any_plan_is_exact_balanced_and_on_node(
            cpus_per_node in 1usize..6,
            node_count in 1usize..9,
            shards in 0usize..64,
            misplace in any::<bool>(),
        ) {
            let cpu_ids: Vec<Vec<u32>> = (0..node_count)
                .map(|n| (0..cpus_per_node).map(|c| (n * cpus_per_node + c) as u32).collect())
                .collect();
            let slices: Vec<&[u32]> = cpu_ids.iter().map(|v| v.as_slice()).collect();
            let topo = fake(&slices, false);
            let plan = plan(&topo, &[], shards, None, None, misplace).unwrap();
            let expected = if shards == 0 { node_count * cpus_per_node } else { shards };
            prop_assert_eq!(plan.len(), expected);
            check_invariants(&topo, &plan);
            prop_assert!(spread(&per_node(&topo, &plan)) <= 1);
            for p in &plan {
                prop_assert_eq!(p.memory_node != p.node, misplace && node_count > 1);
            }
        }

        #[test]
        fn proportional_sums_and_stays_within_one_of_exact(
            total in 1usize..1000,
            weights in proptest::collection::vec(1usize..50, 1..10),
        ) {
            let counts = proportional(total, &weights);
            prop_assert_eq!(counts.iter().sum::<usize>(), total);
            let sum: usize = weights.iter().sum();
            for (c, w) in counts.iter().zip(&weights) {
                let exact = total as f64 * *w as f64 / sum as f64;
                prop_assert!((*c as f64 - exact).abs() < 1.0, "{} vs {}", c, exact);
            }
        }
    }
}
