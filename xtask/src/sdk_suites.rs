//! The TypeScript and Python SDK suites and the portal's (`portal_suite`), against one live
//! server. The Rust SDK's suite is a cargo test; their npm packages come from `setup`.

use std::path::Path;
use std::process::Command;

use crate::live_server::LiveServer;
use crate::run;

pub fn run_all(root: &Path, python: &Path) -> anyhow::Result<()> {
    let server = LiveServer::start(root, "sdk-suites")?;
    let base_url = server.base_url.as_str();

    run(Command::new("npm")
        .args(["run", "--prefix", "sdks/typescript", "build"])
        .current_dir(root))?;
    run(Command::new("node")
        .args(["--test", "tests/sdk/typescript/"])
        .env("NEOFORGE_BASE_URL", base_url)
        .current_dir(root))?;

    run(Command::new(python)
        .args(["-m", "mypy", "--strict", "sdks/python/neoforge"])
        .current_dir(root))?;
    run(Command::new(python)
        .args(["-m", "pytest", "-q", "tests/sdk/python"])
        .env("PYTHONPATH", root.join("sdks/python"))
        .env("NEOFORGE_BASE_URL", base_url)
        .current_dir(root))?;
    crate::portal_suite::run_suite(root, python, base_url)
}
