//! The machine's NUMA layout as numashard needs it: nodes, the CPUs (PUs) of
//! each node and its memory.
//!
//! The running machine is discovered with hwloc2. Synthetic descriptions and
//! XML files are loaded through a few libhwloc calls declared here, because
//! hwloc2 2.2.0 can only reach them through the `HWLOC_SYNTHETIC` /
//! `HWLOC_XMLFILE` environment variables, and setting those from a
//! multi-threaded process races with every `getenv`.
//!
//! hwloc2 2.2.0 running on libhwloc 2.x has defects this module steers around:
//! `objects_with_type(NUMANode)` panics (NUMA nodes live at a negative,
//! virtual depth that the crate does not map), and `TopologyObject::name()`
//! crashes on unnamed objects. So nodes are never enumerated as objects:
//! every PU is visited, its node comes from its nodeset, and a node's memory
//! from the largest object above its PUs whose nodeset is exactly that node.
//! Only `os_index`, `nodeset`, `parent` and `total_memory` are read, through
//! `nodes_from_pus`, for all three sources alike.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString, OsString};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use hwloc2::{ObjectType, TopologyObject};

use crate::config::{Config, ENV_TOPOLOGY, ENV_TOPOLOGY_XML};
use crate::error::{Error, Result, Status};

/// Where a topology came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopologySource {
    /// The running machine, as hwloc discovers it.
    System,
    /// An hwloc synthetic description, e.g. `"pack:2 [numa] core:2 pu:1"`.
    Synthetic(String),
    /// An hwloc XML file, e.g. one written by `lstopo --of xml`.
    Xml(PathBuf),
}

impl TopologySource {
    /// From config fields, then env vars NUMASHARD_TOPOLOGY / NUMASHARD_TOPOLOGY_XML, else System.
    ///
    /// A synthetic description wins over an XML file at each level. An empty
    /// environment variable counts as unset, so `NUMASHARD_TOPOLOGY= cmd`
    /// undoes an exported one.
    pub fn from_config(cfg: &Config) -> TopologySource {
        Self::choose(cfg, |name| std::env::var_os(name))
    }

    /// [`from_config`](Self::from_config) with the environment passed in, so
    /// tests need not mutate the process environment (which races with
    /// hwloc's own `getenv` calls in concurrently running tests).
    fn choose(cfg: &Config, env: impl Fn(&str) -> Option<OsString>) -> TopologySource {
        if let Some(desc) = &cfg.topology {
            return TopologySource::Synthetic(desc.clone());
        }
        if let Some(path) = &cfg.topology_xml {
            return TopologySource::Xml(path.clone());
        }
        let env = |name| env(name).filter(|v: &OsString| !v.is_empty());
        if let Some(desc) = env(ENV_TOPOLOGY) {
            return TopologySource::Synthetic(desc.to_string_lossy().into_owned());
        }
        if let Some(path) = env(ENV_TOPOLOGY_XML) {
            return TopologySource::Xml(PathBuf::from(path));
        }
        TopologySource::System
    }
}

/// One NUMA node with at least one PU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node's OS index (the number Linux and `numactl` use).
    pub os_index: u32,
    /// OS indexes of the node's PUs (Linux CPU numbers), sorted.
    pub cpus: Vec<u32>,
    /// The node's memory in bytes; 0 when the topology does not say.
    pub memory_bytes: u64,
}

/// The NUMA nodes of a machine, real or described.
#[derive(Clone, Debug)]
pub struct Topology {
    /// Where this topology was loaded from.
    pub source: TopologySource,
    /// True only for the running machine, i.e. when binding threads and
    /// memory to these nodes and CPUs means something.
    pub is_this_system: bool,
    /// The nodes with at least one PU, sorted by `os_index`. A machine
    /// without NUMA information has a single node 0 holding every PU.
    pub nodes: Vec<NodeInfo>,
}

impl Topology {
    /// Loads a topology. Errors with [`Status::Topology`] and a detail when
    /// hwloc rejects the description or file, or finds no PU.
    pub fn load(source: &TopologySource) -> Result<Topology> {
        let (is_this_system, nodes) = match source {
            TopologySource::System => load_system()?,
            TopologySource::Synthetic(desc) => {
                let c_desc = CString::new(desc.as_str())
                    .map_err(|_| topology_error(format!("synthetic topology {desc:?} contains a NUL byte")))?;
                let raw = RawTopology::load(Backend::Synthetic(&c_desc))
                    .map_err(|e| topology_error(format!("synthetic topology {desc:?}: {e}")))?;
                // The description's own support flags would say the same, but
                // the contract must hold even under HWLOC_THISSYSTEM=1.
                (false, nodes_from_pus(&raw.pus()?))
            }
            TopologySource::Xml(path) => {
                let c_path = path_to_cstring(path)?;
                let raw = RawTopology::load(Backend::Xml(&c_path))
                    .map_err(|e| topology_error(format!("XML topology {}: {e}", path.display())))?;
                (false, nodes_from_pus(&raw.pus()?))
            }
        };
        if nodes.is_empty() {
            return Err(topology_error(format!("{} has no PU", source_label(source))));
        }
        Ok(Topology { source: source.clone(), is_this_system, nodes })
    }

    /// The node whose PUs include `cpu`, if any.
    pub fn node_of_cpu(&self, cpu: u32) -> Option<u32> {
        self.nodes.iter().find(|n| n.cpus.binary_search(&cpu).is_ok()).map(|n| n.os_index)
    }

    /// Every PU of every node, sorted.
    pub fn cpus(&self) -> Vec<u32> {
        let mut cpus: Vec<u32> = self.nodes.iter().flat_map(|n| n.cpus.iter().copied()).collect();
        cpus.sort_unstable();
        cpus.dedup();
        cpus
    }

    /// One line for logs, e.g. `"system: 2 nodes; node0 cpus 0-1 (12.0 GiB); node1 cpus 2-3 (12.0 GiB)"`.
    pub fn describe(&self) -> String {
        let mut label = source_label(&self.source);
        if self.source == TopologySource::System && !self.is_this_system {
            // HWLOC_SYNTHETIC / HWLOC_XMLFILE replaced the machine behind our back.
            label.push_str(" (not this machine)");
        }
        let plural = if self.nodes.len() == 1 { "" } else { "s" };
        let mut out = format!("{label}: {} node{plural}", self.nodes.len());
        for node in &self.nodes {
            let _ = write!(out, "; node{} cpus {}", node.os_index, cpu_list(&node.cpus));
            if node.memory_bytes == 0 {
                out.push_str(" (memory unknown)");
            } else {
                let gib = node.memory_bytes as f64 / (1u64 << 30) as f64;
                let _ = write!(out, " ({gib:.1} GiB)");
            }
        }
        out
    }
}

fn topology_error(detail: impl Into<String>) -> Error {
    Error::with_detail(Status::Topology, detail)
}

fn source_label(source: &TopologySource) -> String {
    match source {
        TopologySource::System => "system".to_string(),
        TopologySource::Synthetic(desc) => format!("synthetic {desc:?}"),
        TopologySource::Xml(path) => format!("xml {}", path.display()),
    }
}

/// Renders sorted CPU numbers as ranges: `0-3,8,10-11`.
pub(crate) fn cpu_list(cpus: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            let _ = write!(out, "{start}");
        } else {
            let _ = write!(out, "{start}-{end}");
        }
        i += 1;
    }
    if out.is_empty() {
        out.push_str("none");
    }
    out
}

fn path_to_cstring(path: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| topology_error(format!("XML topology path {} contains a NUL byte", path.display())))
}

/// The running machine through hwloc2, touching only its calls that work on libhwloc 2.x.
fn load_system() -> Result<(bool, Vec<NodeInfo>)> {
    let topo = hwloc2::Topology::new().ok_or_else(|| topology_error("hwloc could not discover this machine"))?;
    // Thread binding is supported only when hwloc describes the running
    // machine; it is off when HWLOC_SYNTHETIC or HWLOC_XMLFILE substituted
    // another topology for it.
    let is_this_system = topo.support().cpu().set_current_thread();
    let pu_depth = topo
        .depth_for_type(&ObjectType::PU)
        .map_err(|e| topology_error(format!("hwloc reports no PU level on this machine: {e:?}")))?;
    let mut nodes = nodes_from_pus(&topo.objects_at_depth(pu_depth));
    if is_this_system {
        for node in nodes.iter_mut().filter(|n| n.memory_bytes == 0) {
            node.memory_bytes = sysfs_node_memory(node.os_index).unwrap_or(0);
        }
    }
    Ok((is_this_system, nodes))
}

/// The kernel's count of a node's memory, for nodes hwloc attaches where the
/// ancestor rule in [`node_memory_above`] cannot see them alone.
fn sysfs_node_memory(node: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/sys/devices/system/node/node{node}/meminfo")).ok()?;
    // "Node 0 MemTotal:       5597044 kB"
    let line = text.lines().find(|l| l.contains("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().rev().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Groups PUs by node. A PU's node is the lowest node of its nodeset (PUs
/// near several nodes, e.g. DRAM and HBM, count for the first); a PU with no
/// nodeset counts for node 0, which gives a machine without NUMA information
/// its single node 0.
fn nodes_from_pus(pus: &[&TopologyObject]) -> Vec<NodeInfo> {
    let mut by_node: BTreeMap<u32, NodeInfo> = BTreeMap::new();
    for pu in pus {
        let node = pu.nodeset().map(|set| set.first()).and_then(|first| u32::try_from(first).ok()).unwrap_or(0);
        let info =
            by_node.entry(node).or_insert_with(|| NodeInfo { os_index: node, cpus: Vec::new(), memory_bytes: 0 });
        info.cpus.push(pu.os_index());
        info.memory_bytes = info.memory_bytes.max(node_memory_above(pu, node));
    }
    let mut nodes: Vec<NodeInfo> = by_node.into_values().collect();
    for node in &mut nodes {
        node.cpus.sort_unstable();
        node.cpus.dedup();
    }
    nodes
}

/// A node's memory seen from one of its PUs: hwloc attaches a NUMA node as a
/// memory child of some ancestor of its PUs, and an object's `total_memory`
/// sums the nodes attached at or below it. The highest ancestor whose nodeset
/// is exactly this node therefore carries this node's memory and no other's.
fn node_memory_above(pu: &TopologyObject, node: u32) -> u64 {
    let mut best = 0;
    let mut obj = Some(pu);
    while let Some(o) = obj {
        if o.nodeset().is_some_and(|set| set.weight() == 1 && set.is_set(node)) {
            best = best.max(o.total_memory());
        }
        obj = o.parent();
    }
    best
}

/// The libhwloc entry points hwloc2 2.2.0 keeps private: loading a synthetic
/// description or an XML file into a topology of our own.
mod ffi {
    use libc::{c_char, c_int, c_uint};

    /// `struct hwloc_topology`, opaque.
    pub enum HwlocTopology {}
    /// `struct hwloc_obj`; read through `hwloc2::TopologyObject`, its `repr(C)` mirror.
    pub enum HwlocObj {}

    /// `HWLOC_OBJ_PU` in `hwloc_obj_type_t`.
    pub const HWLOC_OBJ_PU: c_int = 3;

    #[link(name = "hwloc")]
    extern "C" {
        pub fn hwloc_topology_init(topology: *mut *mut HwlocTopology) -> c_int;
        pub fn hwloc_topology_set_synthetic(topology: *mut HwlocTopology, description: *const c_char) -> c_int;
        pub fn hwloc_topology_set_xml(topology: *mut HwlocTopology, xmlpath: *const c_char) -> c_int;
        pub fn hwloc_topology_load(topology: *mut HwlocTopology) -> c_int;
        pub fn hwloc_topology_destroy(topology: *mut HwlocTopology);
        pub fn hwloc_get_type_depth(topology: *mut HwlocTopology, object_type: c_int) -> c_int;
        pub fn hwloc_get_nbobjs_by_depth(topology: *mut HwlocTopology, depth: c_int) -> c_uint;
        pub fn hwloc_get_obj_by_depth(topology: *mut HwlocTopology, depth: c_int, idx: c_uint) -> *mut HwlocObj;
        #[cfg(test)]
        pub fn hwloc_topology_export_xml(
            topology: *mut HwlocTopology,
            xmlpath: *const c_char,
            flags: libc::c_ulong,
        ) -> c_int;
    }
}

/// What a [`RawTopology`] is loaded from.
enum Backend<'a> {
    Synthetic(&'a CStr),
    Xml(&'a CStr),
}

/// A loaded libhwloc topology, destroyed on drop. Used only inside
/// [`Topology::load`]; nothing borrowed from it outlives it.
struct RawTopology {
    topo: NonNull<ffi::HwlocTopology>,
}

impl RawTopology {
    /// Loads from `backend`; the error is the OS error hwloc left in errno.
    fn load(backend: Backend<'_>) -> std::result::Result<RawTopology, std::io::Error> {
        let mut topo = std::ptr::null_mut();
        // SAFETY: init only writes a freshly allocated topology through the
        // pointer, which points to a live local.
        if unsafe { ffi::hwloc_topology_init(&mut topo) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let topo = NonNull::new(topo).ok_or_else(std::io::Error::last_os_error)?;
        // From here on Drop destroys the topology on every exit path.
        let raw = RawTopology { topo };
        let set = match backend {
            // SAFETY: the topology is initialised and not yet loaded, as both
            // setters require; hwloc copies the NUL-terminated string, which
            // outlives the call.
            Backend::Synthetic(desc) => unsafe { ffi::hwloc_topology_set_synthetic(raw.topo.as_ptr(), desc.as_ptr()) },
            // SAFETY: as above.
            Backend::Xml(path) => unsafe { ffi::hwloc_topology_set_xml(raw.topo.as_ptr(), path.as_ptr()) },
        };
        if set != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: an initialised, configured, not yet loaded topology.
        if unsafe { ffi::hwloc_topology_load(raw.topo.as_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(raw)
    }

    /// Every PU object, viewed through hwloc2's object type so that all
    /// sources share [`nodes_from_pus`].
    fn pus(&self) -> Result<Vec<&TopologyObject>> {
        let topo = self.topo.as_ptr();
        // SAFETY: a loaded topology; the call only reads it.
        let depth = unsafe { ffi::hwloc_get_type_depth(topo, ffi::HWLOC_OBJ_PU) };
        if depth < 0 {
            return Err(topology_error("hwloc reports no PU level"));
        }
        // SAFETY: as above, with a depth hwloc just returned.
        let count = unsafe { ffi::hwloc_get_nbobjs_by_depth(topo, depth) };
        (0..count)
            .map(|idx| {
                // SAFETY: as above, with an index below the level's size.
                let obj = unsafe { ffi::hwloc_get_obj_by_depth(topo, depth, idx) };
                let obj = NonNull::new(obj).ok_or_else(|| topology_error("hwloc returned no PU object"))?;
                // SAFETY: `obj` is a `struct hwloc_obj` owned by the topology,
                // valid and unmodified until it is destroyed, which the borrow
                // of `self` prevents. `hwloc2::TopologyObject` is the
                // `repr(C)` declaration of that struct through which hwloc2
                // reads the objects of its own topologies. It lacks
                // `symmetric_subtree`, but that int shares padding with
                // `memory_arity`, so every pointer field, and the fields read
                // here (os_index 16, total_memory 32, parent 72, nodeset 200
                // on x86_64), sit at the offsets libhwloc 2.x's hwloc.h gives.
                Ok(unsafe { &*obj.as_ptr().cast::<TopologyObject>() })
            })
            .collect()
    }
}

impl Drop for RawTopology {
    fn drop(&mut self) {
        // SAFETY: the topology came from hwloc_topology_init, is destroyed
        // only here, and no object borrowed from it outlives `self`.
        unsafe { ffi::hwloc_topology_destroy(self.topo.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic(desc: &str) -> Topology {
        Topology::load(&TopologySource::Synthetic(desc.to_string())).unwrap_or_else(|e| panic!("loading {desc:?}: {e}"))
    }

    fn node_cpus(topo: &Topology) -> Vec<(u32, Vec<u32>)> {
        topo.nodes.iter().map(|n| (n.os_index, n.cpus.clone())).collect()
    }

    #[test]
    fn synthetic_two_nodes() {
        let topo = synthetic("pack:2 [numa] core:2 pu:1");
        assert!(!topo.is_this_system);
        assert_eq!(node_cpus(&topo), vec![(0, vec![0, 1]), (1, vec![2, 3])]);
        assert_eq!(topo.cpus(), vec![0, 1, 2, 3]);
        assert_eq!(topo.node_of_cpu(1), Some(0));
        assert_eq!(topo.node_of_cpu(2), Some(1));
        assert_eq!(topo.node_of_cpu(4), None);
    }

    #[test]
    fn synthetic_four_nodes() {
        let topo = synthetic("pack:4 [numa] core:2 pu:1");
        assert!(!topo.is_this_system);
        assert_eq!(topo.nodes.len(), 4);
        for (i, node) in topo.nodes.iter().enumerate() {
            let i = i as u32;
            assert_eq!(node.os_index, i);
            assert_eq!(node.cpus, vec![2 * i, 2 * i + 1]);
        }
    }

    #[test]
    fn synthetic_eight_nodes_both_spellings() {
        for desc in ["pack:8 [numa] core:1 pu:1", "numa:8 core:1 pu:1"] {
            let topo = synthetic(desc);
            assert!(!topo.is_this_system, "{desc}");
            assert_eq!(topo.nodes.len(), 8, "{desc}");
            for cpu in 0..8 {
                assert_eq!(topo.node_of_cpu(cpu), Some(cpu), "{desc}");
            }
        }
    }

    #[test]
    fn smt_pus_share_their_node() {
        let topo = synthetic("pack:2 [numa] core:2 pu:2");
        assert_eq!(node_cpus(&topo), vec![(0, vec![0, 1, 2, 3]), (1, vec![4, 5, 6, 7])]);
    }

    #[test]
    fn node_memory_comes_from_the_node_and_no_other() {
        // NUMA node as memory child of a package, with an explicit size.
        let topo = synthetic("pack:2 [numa(memory=3GB)] core:2 pu:1");
        assert!(topo.nodes.iter().all(|n| n.memory_bytes == 3_000_000_000), "{topo:?}");
        // NUMA node attached to each core; hwloc's default size.
        let topo = synthetic("numa:4 core:1 pu:1");
        assert!(topo.nodes.iter().all(|n| n.memory_bytes == 1 << 30), "{topo:?}");
        // Without a size the synthetic nodes have none to report.
        let topo = synthetic("pack:2 [numa] core:1 pu:1");
        assert!(topo.nodes.iter().all(|n| n.memory_bytes == 0), "{topo:?}");
        assert!(topo.describe().contains("memory unknown"));
    }

    #[test]
    fn without_numa_level_everything_is_node_zero() {
        let topo = synthetic("pack:2 core:2 pu:1");
        assert_eq!(node_cpus(&topo), vec![(0, vec![0, 1, 2, 3])]);
    }

    #[test]
    fn invalid_synthetic_is_a_topology_error() {
        for desc in ["bogus:3", "pack:2 [numa] core:two", "", "pack:2\0"] {
            let err = Topology::load(&TopologySource::Synthetic(desc.to_string())).unwrap_err();
            assert_eq!(err.status(), Status::Topology, "{desc:?}");
            assert!(err.detail().is_some_and(|d| d.contains("synthetic")), "{err}");
        }
    }

    #[test]
    fn missing_xml_is_a_topology_error() {
        let path = PathBuf::from("/nonexistent/numashard-topology.xml");
        let err = Topology::load(&TopologySource::Xml(path)).unwrap_err();
        assert_eq!(err.status(), Status::Topology);
        assert!(err.detail().is_some_and(|d| d.contains("numashard-topology.xml")), "{err}");
    }

    /// Writes a synthetic topology to XML with libhwloc itself, so the test
    /// needs no external tool.
    fn export_synthetic_xml(desc: &str, path: &Path) {
        let c_desc = CString::new(desc).unwrap();
        let raw = RawTopology::load(Backend::Synthetic(&c_desc)).unwrap();
        let c_path = path_to_cstring(path).unwrap();
        // SAFETY: a loaded topology and a NUL-terminated path that outlives the call.
        let rc = unsafe { ffi::hwloc_topology_export_xml(raw.topo.as_ptr(), c_path.as_ptr(), 0) };
        assert_eq!(rc, 0, "export to {}: {}", path.display(), std::io::Error::last_os_error());
    }

    #[test]
    fn xml_topology_round_trips() {
        let desc = "pack:4 [numa(memory=2GB)] core:2 pu:1";
        let path = std::env::temp_dir().join(format!("numashard-topology-{}.xml", std::process::id()));
        export_synthetic_xml(desc, &path);
        let loaded = Topology::load(&TopologySource::Xml(path.clone()));
        let _ = std::fs::remove_file(&path);
        let from_xml = loaded.unwrap();
        assert!(!from_xml.is_this_system);
        assert_eq!(from_xml.source, TopologySource::Xml(path));
        assert_eq!(from_xml.nodes, synthetic(desc).nodes);
        assert_eq!(from_xml.nodes.len(), 4);
    }

    /// Goes through hwloc2 on the real machine. Would panic if node discovery
    /// used `objects_with_type(&ObjectType::NUMANode)`, and crash if it called
    /// `name()` on the (unnamed) PUs.
    #[test]
    fn system_is_this_system_and_covers_allowed_cpus() {
        let topo = Topology::load(&TopologySource::System).unwrap();
        assert!(topo.is_this_system, "{}", topo.describe());
        assert!(!topo.nodes.is_empty());
        let cpus = topo.cpus();
        let allowed = crate::placement::allowed_cpus();
        assert!(!allowed.is_empty());
        for cpu in &allowed {
            assert!(cpus.binary_search(cpu).is_ok(), "allowed cpu {cpu} missing from {}", topo.describe());
            assert!(topo.node_of_cpu(*cpu).is_some());
        }
        assert!(topo.nodes.windows(2).all(|w| w[0].os_index < w[1].os_index));
        assert!(topo.nodes.iter().all(|n| n.memory_bytes > 0), "{}", topo.describe());
        assert!(topo.describe().starts_with("system: "), "{}", topo.describe());
    }

    #[test]
    fn system_nodes_match_the_kernel() {
        let topo = Topology::load(&TopologySource::System).unwrap();
        let max_node = topo.nodes.iter().map(|n| n.os_index).max().unwrap();
        assert!(max_node < crate::numa::kernel_node_count());
        for node in &topo.nodes {
            let path = format!("/sys/devices/system/node/node{}/cpulist", node.os_index);
            if let Ok(list) = std::fs::read_to_string(path) {
                assert_eq!(list.trim(), cpu_list(&node.cpus), "node {}", node.os_index);
            }
        }
    }

    #[test]
    fn source_from_config_fields_then_env() {
        let no_env = |_: &str| None;
        let cfg = Config::default();
        assert_eq!(TopologySource::choose(&cfg, no_env), TopologySource::System);

        let env = |name: &str| match name {
            ENV_TOPOLOGY => Some(OsString::from("pack:2 [numa] core:1 pu:1")),
            ENV_TOPOLOGY_XML => Some(OsString::from("/tmp/t.xml")),
            _ => None,
        };
        let from_env = TopologySource::Synthetic("pack:2 [numa] core:1 pu:1".into());
        assert_eq!(TopologySource::choose(&cfg, env), from_env);
        let xml_only = |name: &str| (name == ENV_TOPOLOGY_XML).then(|| OsString::from("/tmp/t.xml"));
        assert_eq!(TopologySource::choose(&cfg, xml_only), TopologySource::Xml("/tmp/t.xml".into()));
        let empty = |_: &str| Some(OsString::new());
        assert_eq!(TopologySource::choose(&cfg, empty), TopologySource::System);

        let cfg = Config { topology_xml: Some("/cfg.xml".into()), ..Config::default() };
        assert_eq!(TopologySource::choose(&cfg, env), TopologySource::Xml("/cfg.xml".into()));
        let cfg = Config { topology: Some("numa:2 pu:1".into()), ..cfg };
        assert_eq!(TopologySource::choose(&cfg, env), TopologySource::Synthetic("numa:2 pu:1".into()));
    }

    #[test]
    fn describe_is_one_line_with_ranges() {
        let topo = synthetic("pack:2 [numa(memory=2GiB)] core:4 pu:1");
        let line = topo.describe();
        assert_eq!(
            line,
            "synthetic \"pack:2 [numa(memory=2GiB)] core:4 pu:1\": 2 nodes; \
             node0 cpus 0-3 (2.0 GiB); node1 cpus 4-7 (2.0 GiB)"
        );
        assert_eq!(cpu_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(cpu_list(&[]), "none");
    }
}
