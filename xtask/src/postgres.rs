//! A throwaway PostgreSQL cluster for one test run, when `NEOFORGE_TEST_POSTGRES_URL` is not
//! set: initdb under target/, a free port on 127.0.0.1, stopped (and deleted) when dropped, so
//! a developer's own database is never needed or touched.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::run;

/// The directory of the installed server binaries (`initdb`, `pg_ctl`): on PATH, else the
/// newest of Debian's /usr/lib/postgresql/<major>/bin.
pub fn bin_dir() -> Option<PathBuf> {
    if crate::preflight::on_path("initdb") && crate::preflight::on_path("pg_ctl") {
        return Some(PathBuf::new());
    }
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    majors.sort();
    majors.pop().map(|(_, bin)| bin)
}

/// initdb refuses to run as root: then the cluster belongs to the `postgres` user.
fn as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

pub struct Cluster {
    data: PathBuf,
    bin: PathBuf,
    pub url: String,
}

impl Cluster {
    pub fn start(root: &Path) -> anyhow::Result<Cluster> {
        let bin =
            bin_dir().context("no PostgreSQL server binaries (apt-get install postgresql)")?;
        let clusters = root.join("target/pg");
        sweep(&clusters, &bin);
        let data = clusters.join(std::process::id().to_string());
        std::fs::create_dir_all(&data)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let cluster = Cluster {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            data,
            bin,
        };
        if as_root() {
            run(Command::new("chown").arg("postgres:").arg(&cluster.data))?;
        }
        run(tool(&cluster.bin, "initdb")
            .args(["--username=postgres", "--auth=trust", "--no-sync", "-D"])
            .arg(&cluster.data))?;
        // fsync off: a test run never outlives the machine, and a crashed server process
        // (the durability tests kill ours, not PostgreSQL) loses nothing without it.
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= \
             -c fsync=off"
        );
        run(tool(&cluster.bin, "pg_ctl")
            .args(["start", "--wait", "--silent", "-o", &options, "-l"])
            .arg(cluster.data.join("log"))
            .arg("-D")
            .arg(&cluster.data))?;
        eprintln!("PostgreSQL for this run: {}", cluster.url);
        Ok(cluster)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        stop(&self.bin, &self.data);
    }
}

fn tool(bin: &Path, name: &str) -> Command {
    let program = bin.join(name);
    if as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn stop(bin: &Path, data: &Path) {
    let _ = run(tool(bin, "pg_ctl")
        .args(["stop", "--silent", "-m", "immediate", "-D"])
        .arg(data));
    let _ = std::fs::remove_dir_all(data);
}

/// Stops and deletes the clusters of runs that were killed before they could (each is
/// named for its run's process id).
fn sweep(clusters: &Path, bin: &Path) {
    for entry in std::fs::read_dir(clusters).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let alive = Path::new("/proc").join(&name).exists();
        if !alive && name.to_str().is_some_and(|n| n.parse::<u32>().is_ok()) {
            stop(bin, &entry.path());
        }
    }
}
