//! The test tools the command installs itself: a Python virtualenv (tests/requirements.txt)
//! and the npm packages of tests/identity, tests/portal and the TypeScript SDK and its suite.
//! Each `npm ci` and the virtualenv are skipped while their lockfile matches the copy kept
//! beside what they installed. The test command runs this beside its build.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run;

/// Everything the Rust tests need (the virtualenv, tests/identity), and with `suites` what the
/// SDK and portal suites need; returns the virtualenv's python.
pub fn tools(root: &Path, suites: bool) -> anyhow::Result<PathBuf> {
    let python = python_tools(root)?;
    npm_ci(&root.join("tests/identity"))?;
    if suites {
        npm_ci(&root.join("tests/portal"))?;
        // The generated SDK and its suite keep no lockfile in git (sdks/ is regenerated).
        for dir in ["sdks/typescript", "tests/sdk/typescript"] {
            run(Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(root.join(dir)))?;
        }
    }
    Ok(python)
}

/// A virtualenv under target/py with tests/requirements.txt installed; returns its python.
fn python_tools(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join("target/py");
    let python = venv.join("bin/python");
    let requirements = root.join("tests/requirements.txt");
    unless_unchanged(&requirements, &venv.join("requirements.txt"), || {
        if !python.exists() {
            run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        }
        run(Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements))
    })?;
    Ok(python)
}

/// `npm ci` in `dir`, unless node_modules was installed from this package-lock.json.
fn npm_ci(dir: &Path) -> anyhow::Result<()> {
    let lock = dir.join("package-lock.json");
    unless_unchanged(
        &lock,
        &dir.join("node_modules/.neoforge-installed-lock"),
        || {
            run(Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(dir))
        },
    )
}

/// Runs `install` unless `stamp` holds the same bytes as `lock`; records `lock` after.
fn unless_unchanged(
    lock: &Path,
    stamp: &Path,
    install: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let wanted = std::fs::read(lock)?;
    if std::fs::read(stamp).is_ok_and(|had| had == wanted) {
        return Ok(());
    }
    install()?;
    std::fs::write(stamp, wanted)?;
    Ok(())
}
