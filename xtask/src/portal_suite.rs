//! The browser suites (tests/portal), against the live server the SDK suites use: the
//! developer portal's flow in Debian's headless Chromium and its code samples compiled and
//! run; and the billing flow (pricing table, checkout, customer portal, email), which starts
//! a server and an SMTP server of its own. The test command checks for Chromium before it
//! builds (`preflight`).

use std::path::Path;
use std::process::Command;

use crate::run;

pub const CHROMIUM: &str = "/usr/bin/chromium";

pub fn run_suite(root: &Path, python: &Path, base_url: &str) -> anyhow::Result<()> {
    run(Command::new("node")
        .args(["--test", "--test-concurrency=1", "tests/portal/"])
        .env("NEOFORGE_BASE_URL", base_url)
        .env("NEOFORGE_PYTHON", python)
        .env("CHROMIUM", CHROMIUM)
        .current_dir(root))
}
