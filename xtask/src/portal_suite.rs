//! The developer portal's suites (tests/portal), against the live server the SDK suites use:
//! the browser flow in Debian's headless Chromium, and the portal's code samples compiled and
//! run. They fail, not skip, without Chromium (`.ci/run` installs it).

use std::path::Path;
use std::process::Command;

use anyhow::bail;

use crate::run;

const CHROMIUM: &str = "/usr/bin/chromium";

pub fn run_suite(root: &Path, python: &Path, base_url: &str) -> anyhow::Result<()> {
    if !Path::new(CHROMIUM).exists() {
        bail!("the portal's browser suite needs Chromium at {CHROMIUM}: apt-get install chromium");
    }
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(root.join("tests/portal")))?;
    run(Command::new("node")
        .args(["--test", "--test-concurrency=1", "tests/portal/"])
        .env("NEOFORGE_BASE_URL", base_url)
        .env("NEOFORGE_PYTHON", python)
        .env("CHROMIUM", CHROMIUM)
        .current_dir(root))
}
