//! What the run saw of the machine and of its own binding, so that results
//! taken under `numactl` or `taskset` describe themselves.

use crate::numashard_engine::NumashardEngine;
use numashard::{placement::allowed_cpus, ExecMode};
use serde_json::{json, Value};

/// A `/proc/self/status` field, e.g. `Mems_allowed_list`.
fn proc_status(field: &str) -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(|v| v.trim().to_string()))
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// The calling thread's memory policy, as numactl names it, and its node mask.
pub fn memory_policy() -> (String, Vec<u32>) {
    const MAX_NODES: usize = 1024;
    let mut mode: libc::c_int = 0;
    let mut mask = [0 as libc::c_ulong; MAX_NODES / libc::c_ulong::BITS as usize];
    // SAFETY: the kernel writes one int into `mode` and at most MAX_NODES bits into `mask`, which holds that many.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_get_mempolicy,
            &mut mode as *mut libc::c_int,
            mask.as_mut_ptr(),
            MAX_NODES as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            0 as libc::c_ulong,
        )
    };
    if rc != 0 {
        return ("unknown".into(), Vec::new());
    }
    let bits = libc::c_ulong::BITS as usize;
    let nodes = (0..MAX_NODES).filter(|&n| mask[n / bits] & (1 << (n % bits)) != 0).map(|n| n as u32).collect();
    let name = match mode & 0xff {
        0 => "default",
        1 => "preferred",
        2 => "bind",
        3 => "interleave",
        4 => "local",
        5 => "preferred-many",
        6 => "weighted-interleave",
        _ => "other",
    };
    (name.into(), nodes)
}

/// A compact CPU list, e.g. `0-3,8`.
pub fn cpu_list(cpus: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if i == j { cpus[i].to_string() } else { format!("{}-{}", cpus[i], cpus[j]) });
        i = j + 1;
    }
    parts.join(",")
}

/// Machine, binding, topology and numashard's placement, as JSON and as printable lines.
pub struct Environment {
    /// For the JSON document.
    pub json: Value,
    /// For the terminal.
    pub lines: Vec<String>,
}

/// Looks at the machine, this process's binding, and where a numashard map with `shards` shards places itself.
pub fn describe(shards: usize) -> Environment {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")?.split(':').nth(1)).map(str::trim);
    let kernel = read_trimmed("/proc/sys/kernel/osrelease");
    let mem_total = proc_meminfo_total();
    let allowed = allowed_cpus();
    let (policy, policy_nodes) = memory_policy();
    let mems_allowed = proc_status("Mems_allowed_list");
    let online = read_trimmed("/sys/devices/system/cpu/online");
    let mut lines = vec![
        format!(
            "machine  : {} · CPUs online {} · kernel {} · {:.1} GiB",
            model.unwrap_or("unknown CPU"),
            online.as_deref().unwrap_or("?"),
            kernel.as_deref().unwrap_or("?"),
            mem_total.unwrap_or(0) as f64 / (1u64 << 30) as f64
        ),
        format!(
            "binding  : allowed CPUs {} · memory policy {}{} · mems allowed {}",
            cpu_list(&allowed),
            policy,
            if policy_nodes.is_empty() { String::new() } else { format!(" (nodes {})", cpu_list(&policy_nodes)) },
            mems_allowed.as_deref().unwrap_or("?")
        ),
    ];
    let mut json = json!({
        "machine": { "cpu_model": model, "cpus_online": online,
                     "kernel": kernel, "mem_total_bytes": mem_total },
        "binding": { "allowed_cpus": cpu_list(&allowed), "memory_policy": policy, "memory_policy_nodes": policy_nodes,
                     "mems_allowed": mems_allowed },
    });
    match NumashardEngine::new(ExecMode::Auto, shards) {
        Ok(engine) => {
            let map = engine.map();
            let topo = map.topology();
            lines.push(format!("topology : {}", topo.describe()));
            let stats = map.stats().ok();
            let applied = stats.as_ref().is_some_and(|s| s.binding_applied);
            for node in &topo.nodes {
                let mine: Vec<_> = map.placements().into_iter().filter(|p| p.node == node.os_index).collect();
                if mine.is_empty() {
                    continue;
                }
                let cpus: Vec<u32> = mine.iter().map(|p| p.cpu).collect();
                let mem: Vec<u32> = mine.iter().map(|p| p.memory_node).collect();
                lines.push(format!(
                    "placement: node {}: {} shard(s) on CPUs {} · memory on node(s) {}",
                    node.os_index,
                    mine.len(),
                    cpu_list(&cpus),
                    cpu_list(&{
                        let mut m = mem.clone();
                        m.sort_unstable();
                        m.dedup();
                        m
                    })
                ));
            }
            lines.push(format!(
                "binding applied by numashard: {}{}",
                if applied { "yes" } else { "no" },
                if topo.is_this_system { "" } else { " (topology is not this machine's)" }
            ));
            json["topology"] = json!({
                "describe": topo.describe(),
                "is_this_system": topo.is_this_system,
                "nodes": topo.nodes.iter().map(|n| json!({"node": n.os_index, "cpus": cpu_list(&n.cpus), "memory_bytes": n.memory_bytes})).collect::<Vec<_>>(),
            });
            json["placement"] = crate::engine::Engine::placement(&engine).unwrap_or(Value::Null);
        }
        Err(e) => {
            lines.push(format!("topology : numashard could not open a map: {e}"));
            json["topology"] = json!({ "error": e.to_string() });
        }
    }
    Environment { json, lines }
}

fn proc_meminfo_total() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 =
        info.lines().find_map(|l| l.strip_prefix("MemTotal:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// The CPU time (user + system, every thread of the process) used while the
/// calling thread sleeps for `d`, and the wall time it slept: what an open
/// map costs with no traffic. Returns (cpu seconds, wall seconds).
pub fn idle_cpu(d: std::time::Duration) -> (f64, f64) {
    fn process_cpu() -> f64 {
        // SAFETY: getrusage writes one rusage struct we own.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: as above; RUSAGE_SELF covers every thread of the process.
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
        t(ru.ru_utime) + t(ru.ru_stime)
    }
    let c0 = process_cpu();
    let t0 = std::time::Instant::now();
    std::thread::sleep(d);
    (process_cpu() - c0, t0.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_compact() {
        assert_eq!(cpu_list(&[0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
        assert_eq!(cpu_list(&[]), "");
    }
}
