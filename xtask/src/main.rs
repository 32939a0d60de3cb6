//! Project automation: `cargo xtask <spec|sdk|portal|test|bench|ci>`.

mod bench;
mod fuzz;
mod identity_tools;
mod live_server;
mod portal_suite;
mod postgres;
mod preflight;
mod sdk_suites;
mod setup;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const USAGE: &str = "usage: cargo xtask <command>

  spec                 write openapi/v1.json from the server's handlers
  spec release X.Y.Z   freeze openapi/v1.json as openapi/releases/vX.Y.Z.json, update CHANGELOG.md
  sdk                  regenerate sdks/ (TypeScript, Python, Rust) from openapi/v1.json
  portal               regenerate the developer portal (portal/site) from the IR and portal/
  test                 run every test: Rust (SQLite and PostgreSQL), the three SDKs and the
                       portal (headless Chromium, code samples) against a live server, spec
                       validation; PostgreSQL is NEOFORGE_TEST_POSTGRES_URL, else a
                       throwaway cluster under target/pg
  test FILTER          only the Rust tests whose names contain FILTER (same build, nextest)
  bench api            authenticated GET against a trivial route (release build)
  bench sdk-gen        time to regenerate every SDK, and to diff two spec versions
  bench billing        renew 10,000 due subscriptions with two racing schedulers, on SQLite
                       and PostgreSQL (NEOFORGE_TEST_POSTGRES_URL), release build
  bench ingest         usage events/s through the HTTP API (batches of 100 and 1,000) beside
                       the raw INSERT ceiling, then usage query and entitlement check latency
                       after NEOFORGE_BENCH_EVENTS events (default 10,000,000), peak RSS;
                       SQLite and PostgreSQL, release build
  ci                   cargo fmt --check, clippy -D warnings, then test";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["spec"] => spec(),
        ["spec", "release", version] => release(version),
        ["sdk"] => sdk(),
        ["portal"] => portal(),
        ["test"] => test(None),
        ["test", filter] => test(Some(filter)),
        ["bench", "api"] => bench::api(&root()),
        ["bench", "sdk-gen"] => bench::sdk_gen(&root()),
        ["bench", "billing"] => bench::billing(),
        ["bench", "ingest"] => bench::ingest(&root()),
        ["ci"] => {
            run(cargo().args(["fmt", "--all", "--check"]))?;
            run(cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--features",
                "neoforge-server/saml",
                "--",
                "-D",
                "warnings",
            ]))?;
            test(None)
        }
        _ => {
            eprintln!("{USAGE}");
            bail!("unknown command: {}", args.join(" "))
        }
    }
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Through the server binary's `spec` subcommand: linking the server into xtask would compile
/// it a second time, with other features, on every `cargo xtask` run.
fn spec() -> anyhow::Result<()> {
    let out = cargo()
        .args([
            "run",
            "--quiet",
            "--package",
            "neoforge-server",
            "--",
            "spec",
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run the server's spec subcommand")?;
    if !out.status.success() {
        bail!("the server's spec subcommand failed: {}", out.status);
    }
    let path = root().join("openapi/v1.json");
    std::fs::write(&path, out.stdout)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// The generator's own command line (`sdk-gen/src/main.rs`): xtask links none of it, so a
/// cold `cargo xtask` compiles only this crate.
fn sdk_gen(args: &[&str]) -> anyhow::Result<()> {
    run(cargo()
        .args(["run", "--quiet", "--package", "sdk-gen", "--"])
        .args(args))
}

fn sdk() -> anyhow::Result<()> {
    sdk_gen(&["generate"])
}

fn portal() -> anyhow::Result<()> {
    sdk_gen(&["portal"])
}

fn release(version: &str) -> anyhow::Result<()> {
    sdk_gen(&["release", version])
}

/// Everything, on both backends; with a filter, only the Rust tests whose names contain it
/// (same build, so switching between the two forms rebuilds nothing). PostgreSQL is
/// `NEOFORGE_TEST_POSTGRES_URL` when set, else a throwaway cluster this run starts.
///
/// Time on two cores goes to the cold build first, so the test tools install beside it, and
/// schemathesis, the longest suite, fuzzes its own server while the Rust tests and the SDK
/// suites run.
fn test(filter: Option<&str>) -> anyhow::Result<()> {
    let full = filter.is_none();
    let own_postgres = std::env::var_os("NEOFORGE_TEST_POSTGRES_URL").is_none();
    preflight::check(own_postgres, full)?;
    let tools = std::thread::spawn(move || setup::tools(&root(), full));
    let cluster = own_postgres
        .then(|| postgres::Cluster::start(&root()))
        .transpose()?;
    let built = run(nextest(None).arg("--no-run"));
    let python = tools
        .join()
        .map_err(|_| anyhow::anyhow!("installing the test tools panicked"))??;
    built?;
    let fuzz = full.then(|| fuzz::start(&root(), &python)).transpose()?;

    let identity = identity_tools::IdentityTools::start(&root(), &python)?;
    let mut rust = nextest(filter);
    rust.env("NEOFORGE_TEST_PYTHON", &python);
    rust.envs(identity.env.iter().map(|(k, v)| (k, v)));
    if let Some(cluster) = &cluster {
        rust.env("NEOFORGE_TEST_POSTGRES_URL", &cluster.url);
    }
    run(&mut rust)?;
    drop((identity, cluster));
    let Some(fuzz) = fuzz else {
        eprintln!(
            "filtered run: the spec check and the SDK, portal and schemathesis suites did not run"
        );
        return Ok(());
    };
    run(Command::new(&python)
        .args(["-m", "openapi_spec_validator", "openapi/v1.json"])
        .current_dir(root()))?;
    sdk_suites::run_all(&root(), &python)?;
    fuzz.finish()
}

/// cargo-nextest, one process per test, with the SAML feature on (its C libraries, see
/// .ci/run). `--tests` builds the test targets only (no examples: they are the benches'
/// parts, checked by clippy) and target/debug/neoforge, which the suites then run.
fn nextest(filter: Option<&str>) -> Command {
    let mut c = cargo();
    c.args([
        "nextest",
        "run",
        "--workspace",
        "--features",
        "neoforge-server/saml",
        "--tests",
    ]);
    if let Some(filter) = filter {
        c.args(["--no-tests=warn", filter]);
    }
    c
}
