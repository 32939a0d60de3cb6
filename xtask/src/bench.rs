//! `cargo xtask bench api`: an authenticated GET beside `/healthz` on the release server.
//! `cargo xtask bench billing`: the scheduler renewing 10,000 due subscriptions.
//! `cargo xtask bench ingest`: usage events through the release server's HTTP API.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::bail;
use serde_json::{Value, json};

use crate::{cargo, run};

/// `server/examples/api_bench.rs` in release against the release server binary.
pub fn api(root: &Path) -> anyhow::Result<()> {
    run(cargo().args(["build", "--release", "-p", "neoforge-server"]))?;
    run(cargo()
        .args(["run", "--release", "-q", "-p", "neoforge-server"])
        .args(["--example", "api_bench", "--"])
        .arg(root.join("target/release/neoforge")))
}

/// `server/examples/billing_bench.rs` in release, on SQLite then PostgreSQL.
pub fn billing() -> anyhow::Result<()> {
    let postgres = std::env::var("NEOFORGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    for target in ["sqlite", postgres.as_str()] {
        run(cargo()
            .args(["run", "--release", "-q", "-p", "neoforge-server"])
            .args(["--example", "billing_bench", "--", target]))?;
    }
    Ok(())
}

/// `server/examples/ingest_bench.rs` in release against the release server binary, on
/// SQLite then PostgreSQL.
pub fn ingest(root: &Path) -> anyhow::Result<()> {
    run(cargo().args(["build", "--release", "-p", "neoforge-server"]))?;
    let server = root.join("target/release/neoforge");
    let postgres = std::env::var("NEOFORGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    for target in ["sqlite", postgres.as_str()] {
        run(cargo()
            .args(["run", "--release", "-q", "-p", "neoforge-server"])
            .args(["--example", "ingest_bench", "--", target])
            .arg(&server))?;
    }
    Ok(())
}

/// `cargo xtask bench sdk-gen`: the release `sdk-gen` regenerating all three SDKs from our
/// spec, and diffing two versions of it (the spec against a copy with a path removed and a
/// property retyped), as whole processes, best and median of several runs.
pub fn sdk_gen(root: &Path) -> anyhow::Result<()> {
    run(cargo().args(["build", "--release", "-p", "sdk-gen"]))?;
    let bin = root.join("target/release/sdk-gen");
    let dir = std::env::temp_dir().join(format!("neoforge-bench-sdkgen-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let spec = root.join("openapi/v1.json");
    let mut changed: Value = serde_json::from_str(&std::fs::read_to_string(&spec)?)?;
    if let Some(paths) = changed["paths"].as_object_mut() {
        paths.remove("/v1/audit_events");
    }
    changed["components"]["schemas"]["ApiKey"]["properties"]["name"] = json!({"type": "integer"});
    let head = dir.join("head.json");
    std::fs::write(&head, serde_json::to_string(&changed)?)?;

    let generate = time_runs(|| {
        Command::new(&bin)
            .arg("generate")
            .arg("--spec")
            .arg(&spec)
            .arg("--out")
            .arg(dir.join("sdks"))
            .stderr(Stdio::null())
            .status()
    })?;
    let diff = time_runs(|| {
        Command::new(&bin)
            .arg("diff")
            .arg(&spec)
            .arg(&head)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    })?;
    println!("neoforge bench sdk-gen: release build, whole process, {RUNS} runs each");
    println!(
        "generate TypeScript + Python + Rust SDKs   best {:>7.1} ms   median {:>7.1} ms   (goal < 2000 ms)",
        generate.0, generate.1
    );
    println!(
        "diff two spec versions                     best {:>7.1} ms   median {:>7.1} ms",
        diff.0, diff.1
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

const RUNS: usize = 7;

/// (best, median) wall time in milliseconds. `diff` exits 1 on breaking changes: any exit
/// status that is not a crash (2 or a signal) counts as a run.
fn time_runs(
    mut once: impl FnMut() -> std::io::Result<std::process::ExitStatus>,
) -> anyhow::Result<(f64, f64)> {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let status = once()?;
        if !matches!(status.code(), Some(0 | 1)) {
            bail!("sdk-gen failed: {status}");
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[0], times[RUNS / 2]))
}
