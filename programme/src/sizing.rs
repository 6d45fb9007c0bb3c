//! The embedded cluster's server settings, sized from the host it runs on.
//!
//! [`Sizing::Auto`] (the service's default) derives memory, WAL, parallelism and planner costs
//! from the host's memory (the smaller of `/proc/meminfo` and the cgroup's limit) and CPUs:
//! shared buffers a quarter of the memory (at most 16 GB), an effective cache of three
//! quarters, work memory shared out over the connections, SSD planner costs.
//! [`Sizing::Small`] keeps the fixed settings of training instances and test clusters.
//! `--pg-setting NAME=VALUE` ([`Override`]) replaces any one; the settings echinomap needs
//! for itself (no TCP, the socket, no personal data in PostgreSQL's log) cannot be replaced.
//!
//! [`server_settings`] is a pure function of the sizing, the [`Host`] and the overrides, so
//! the contracted host's values are a unit test (32 cores, 64 GB).

use std::collections::BTreeMap;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// How the embedded cluster's settings are chosen (`--database-sizing`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sizing {
    /// From the host's memory and CPUs: for the production service.
    Auto,
    /// Fixed, small settings (256 MB of shared buffers, 100 connections): training instances,
    /// `make run`, the test clusters. The library's default; the command line's is `auto`.
    #[default]
    Small,
}

impl Sizing {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "small" => Some(Self::Small),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Small => "small",
        }
    }
}

/// One `--pg-setting NAME=VALUE`: a PostgreSQL server setting replacing the sized one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub name: String,
    pub value: String,
}

/// Settings echinomap sets itself and an override may not replace: the cluster listens on
/// its private socket only, and nothing a statement carries reaches PostgreSQL's log
/// (personal data).
pub const FIXED: &[&str] = &[
    "listen_addresses",
    "port",
    "unix_socket_directories",
    "unix_socket_permissions",
    "fsync",
    "log_error_verbosity",
    "log_min_error_statement",
    "log_statement",
    "log_min_duration_statement",
    "log_parameter_max_length",
    "log_parameter_max_length_on_error",
    "data_directory",
    "hba_file",
];

impl Override {
    /// `NAME=VALUE`: a name as PostgreSQL spells its settings (letters, digits, `_`, `.` for
    /// an extension's), a value that is not empty, and not one of the [`FIXED`] settings.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (name, value) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?} is not NAME=VALUE (e.g. work_mem=64MB)"))?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
        let valid_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid_name {
            return Err(format!("{name:?} is not a PostgreSQL setting name"));
        }
        if value.is_empty() {
            return Err(format!("{name}: no value (NAME=VALUE, e.g. work_mem=64MB)"));
        }
        if FIXED.contains(&name.as_str()) {
            return Err(format!(
                "{name} is set by echinomap itself (private socket, no personal data in PostgreSQL's log) and cannot be changed"
            ));
        }
        Ok(Self { name, value })
    }
}

/// What the sizing depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// Memory the cluster may use: the host's, or the cgroup's limit when smaller.
    pub memory_bytes: u64,
    pub cpus: u32,
}

impl Host {
    /// This host: `MemTotal` of `/proc/meminfo`, lowered to the memory limits of this
    /// process's cgroup and its ancestors (v2 `memory.max`, v1 `memory.limit_in_bytes`: a
    /// `MemoryMax=` on the unit counts); the CPUs this process may use (affinity and cgroup
    /// quota).
    pub fn detect() -> Self {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let total = mem_total(&meminfo).unwrap_or(2 * GIB);
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let limits = cgroup_memory_limit_files(&own)
            .into_iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter_map(|s| s.trim().parse::<u64>().ok());
        let memory_bytes = limits.fold(total, u64::min);
        let cpus = std::thread::available_parallelism()
            .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX));
        Self { memory_bytes, cpus }
    }
}

/// The files that may hold a memory limit for a process whose `/proc/self/cgroup` is
/// `own`: its cgroup's and every ancestor's, up to the root (v2: `0::/PATH` →
/// `/sys/fs/cgroup/PATH/memory.max`; v1: `N:memory:/PATH` →
/// `/sys/fs/cgroup/memory/PATH/memory.limit_in_bytes`).
fn cgroup_memory_limit_files(own: &str) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (root, file) = if controllers.is_empty() {
            ("/sys/fs/cgroup", "memory.max")
        } else if controllers.split(',').any(|c| c == "memory") {
            ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")
        } else {
            continue;
        };
        let mut dir = std::path::PathBuf::from(root);
        files.push(dir.join(file));
        for part in path.split('/').filter(|p| !p.is_empty() && *p != "..") {
            dir.push(part);
            files.push(dir.join(file));
        }
    }
    files
}

/// `MemTotal:  65843212 kB` → bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The connections the service's pools may hold (requests 16, tiles 8, long work 4,
/// cancellations 4), twice over for a command (`backup`, `import`, `migrate`) running beside
/// the service, with room for PostgreSQL's own and an operator's `psql`.
pub const AUTO_MAX_CONNECTIONS: u64 = 100;

/// The server settings of the embedded cluster, by name, in PostgreSQL's units: those the
/// sizing derives, then the overrides (a later override of the same name wins).
pub fn server_settings(
    sizing: Sizing,
    host: &Host,
    overrides: &[Override],
) -> BTreeMap<String, String> {
    let mut settings: BTreeMap<String, String> = match sizing {
        Sizing::Small => small(),
        Sizing::Auto => auto(host),
    }
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for o in overrides {
        settings.insert(o.name.clone(), o.value.clone());
    }
    settings
}

/// Today's fixed settings (before sizing existed): training instances and tests.
fn small() -> Vec<(&'static str, String)> {
    vec![
        ("max_connections", "100".to_owned()),
        ("shared_buffers", "256MB".to_owned()),
    ]
}

fn auto(host: &Host) -> Vec<(&'static str, String)> {
    let ram = host.memory_bytes.max(512 * MIB);
    let cpus = u64::from(host.cpus.max(1));
    let shared_buffers = (ram / 4).clamp(128 * MIB, 16 * GIB);
    let effective_cache = ram / 4 * 3;
    let max_connections = AUTO_MAX_CONNECTIONS;
    let per_gather = (cpus / 2).clamp(1, 4);
    // What is left besides the shared buffers, for every connection running a few sorts or
    // hashes at once (3), each of them maybe in parallel.
    let work_mem =
        ((ram - shared_buffers) / (max_connections * 3) / per_gather).clamp(4 * MIB, 256 * MIB);
    let maintenance_work_mem = (ram / 16).clamp(64 * MIB, 2 * GIB);
    // Fewer checkpoints under a large import; the contract's host has a 100 GB disk.
    let (max_wal, min_wal) = if ram >= 8 * GIB {
        (4 * GIB, GIB)
    } else {
        (GIB, 256 * MIB)
    };
    vec![
        ("max_connections", max_connections.to_string()),
        ("shared_buffers", mb(shared_buffers)),
        ("effective_cache_size", mb(effective_cache)),
        ("work_mem", mb(work_mem)),
        ("maintenance_work_mem", mb(maintenance_work_mem)),
        ("max_wal_size", mb(max_wal)),
        ("min_wal_size", mb(min_wal)),
        ("wal_compression", "on".to_owned()),
        ("checkpoint_completion_target", "0.9".to_owned()),
        ("max_worker_processes", cpus.max(8).to_string()),
        ("max_parallel_workers", cpus.to_string()),
        ("max_parallel_workers_per_gather", per_gather.to_string()),
        ("max_parallel_maintenance_workers", per_gather.to_string()),
        // A cloud host's disks are SSDs: random reads cost little more than sequential ones.
        ("random_page_cost", "1.1".to_owned()),
        ("effective_io_concurrency", "200".to_owned()),
    ]
}

/// Bytes as whole megabytes, PostgreSQL's `MB` (1024 × 1024).
fn mb(bytes: u64) -> String {
    format!("{}MB", bytes / MIB)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(sizing: Sizing, gib: u64, cpus: u32) -> BTreeMap<String, String> {
        server_settings(
            sizing,
            &Host {
                memory_bytes: gib * GIB,
                cpus,
            },
            &[],
        )
    }

    #[test]
    fn the_contracted_host_of_64_gb_and_32_cores_gets_16_gb_of_buffers_and_parallel_plans() {
        let s = settings(Sizing::Auto, 64, 32);
        let expect = [
            ("shared_buffers", "16384MB"),
            ("effective_cache_size", "49152MB"),
            ("work_mem", "40MB"),
            ("maintenance_work_mem", "2048MB"),
            ("max_wal_size", "4096MB"),
            ("min_wal_size", "1024MB"),
            ("wal_compression", "on"),
            ("max_connections", "100"),
            ("max_worker_processes", "32"),
            ("max_parallel_workers", "32"),
            ("max_parallel_workers_per_gather", "4"),
            ("max_parallel_maintenance_workers", "4"),
            ("random_page_cost", "1.1"),
            ("effective_io_concurrency", "200"),
        ];
        for (name, value) in expect {
            assert_eq!(s.get(name).map(String::as_str), Some(value), "{name}");
        }
    }

    #[test]
    fn shared_buffers_stop_at_16_gb_on_a_larger_host() {
        let s = settings(Sizing::Auto, 256, 64);
        assert_eq!(s["shared_buffers"], "16384MB");
        assert_eq!(s["effective_cache_size"], "196608MB");
    }

    #[test]
    fn a_small_host_gets_small_values_within_postgresql_s_limits() {
        let s = settings(Sizing::Auto, 2, 2);
        assert_eq!(s["shared_buffers"], "512MB");
        assert_eq!(s["work_mem"], "5MB");
        assert_eq!(s["maintenance_work_mem"], "128MB");
        assert_eq!(s["max_wal_size"], "1024MB");
        assert_eq!(s["max_worker_processes"], "8");
        assert_eq!(s["max_parallel_workers_per_gather"], "1");
    }

    #[test]
    fn small_sizing_keeps_the_fixed_settings_whatever_the_host() {
        let expected: BTreeMap<String, String> = [
            ("max_connections".to_owned(), "100".to_owned()),
            ("shared_buffers".to_owned(), "256MB".to_owned()),
        ]
        .into();
        assert_eq!(settings(Sizing::Small, 64, 32), expected);
        assert_eq!(settings(Sizing::Small, 1, 1), expected);
    }

    #[test]
    fn an_override_replaces_one_sized_setting_and_may_add_another() {
        let overrides = [
            Override::parse("shared_buffers=8GB").expect("valid"),
            Override::parse(" jit = off ").expect("valid"),
        ];
        let s = server_settings(
            Sizing::Auto,
            &Host {
                memory_bytes: 64 * GIB,
                cpus: 32,
            },
            &overrides,
        );
        assert_eq!(s["shared_buffers"], "8GB");
        assert_eq!(s["jit"], "off");
        assert_eq!(s["work_mem"], "40MB");
    }

    #[test]
    fn an_override_of_what_keeps_the_log_free_of_personal_data_is_refused() {
        let err = Override::parse("log_statement=all").expect_err("fixed");
        assert!(err.contains("log_statement is set by echinomap"), "{err}");
        assert!(Override::parse("listen_addresses=*").is_err());
        assert!(Override::parse("work_mem").is_err());
        assert!(Override::parse("work_mem=").is_err());
        assert!(Override::parse("work mem=1MB").is_err());
        assert!(Override::parse("1x=1").is_err());
        assert_eq!(
            Override::parse("pg_stat_statements.max=5000"),
            Ok(Override {
                name: "pg_stat_statements.max".to_owned(),
                value: "5000".to_owned()
            })
        );
    }

    #[test]
    fn memory_is_read_from_meminfo_in_kib() {
        let meminfo = "MemTotal:       65843212 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total(meminfo), Some(65_843_212 * 1024));
        assert_eq!(mem_total("nothing"), None);
        let here = Host::detect();
        assert!(here.memory_bytes > 0 && here.cpus >= 1, "{here:?}");
    }

    #[test]
    fn sizing_names_round_trip() {
        for s in [Sizing::Auto, Sizing::Small] {
            assert_eq!(Sizing::parse(s.as_str()), Some(s));
        }
        assert_eq!(Sizing::parse("large"), None);
    }

    #[test]
    fn the_memory_limit_of_the_unit_s_own_cgroup_and_its_ancestors_is_read() {
        let v2 = cgroup_memory_limit_files("0::/system.slice/echinomap.service\n");
        let v2: Vec<String> = v2.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            v2,
            [
                "/sys/fs/cgroup/memory.max",
                "/sys/fs/cgroup/system.slice/memory.max",
                "/sys/fs/cgroup/system.slice/echinomap.service/memory.max",
            ]
        );
        let v1 = cgroup_memory_limit_files(
            "12:cpu,cpuacct:/x\n7:memory:/system.slice/echinomap.service\n",
        );
        assert_eq!(v1.len(), 3);
        assert!(v1[2].ends_with("memory/system.slice/echinomap.service/memory.limit_in_bytes"));
        assert!(cgroup_memory_limit_files("").is_empty());
    }
}
