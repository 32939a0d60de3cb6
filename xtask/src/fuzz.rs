//! Schemathesis (`tests/spec/fuzz.py`): the spec must match the server. It runs against a
//! server of its own, in the background while the Rust tests and the SDK suites run (it is
//! the longest suite and mostly waits on Python), its output kept in target/fuzz.log and shown
//! when it is awaited.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use anyhow::{Context, bail};

use crate::live_server::LiveServer;

pub struct Fuzz {
    child: Child,
    log: PathBuf,
    _server: LiveServer,
}

pub fn start(root: &Path, python: &Path) -> anyhow::Result<Fuzz> {
    let server = LiveServer::start(root, "fuzz")?;
    let log = root.join("target/fuzz.log");
    let out = File::create(&log).with_context(|| format!("create {}", log.display()))?;
    let child = Command::new(python)
        .arg("tests/spec/fuzz.py")
        .env("NEOFORGE_BASE_URL", &server.base_url)
        .current_dir(root)
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .context("start tests/spec/fuzz.py")?;
    eprintln!(
        "schemathesis runs in the background; its output goes to {}",
        log.display()
    );
    Ok(Fuzz {
        child,
        log,
        _server: server,
    })
}

impl Fuzz {
    /// Waits for schemathesis to end, shows its output, and fails when it did.
    pub fn finish(mut self) -> anyhow::Result<()> {
        let status = self.child.wait()?;
        eprintln!("$ tests/spec/fuzz.py ({})", self.log.display());
        eprint!("{}", std::fs::read_to_string(&self.log)?);
        if !status.success() {
            bail!("schemathesis failed: {status}");
        }
        Ok(())
    }
}

impl Drop for Fuzz {
    /// A run that stops early (a failed Rust test) stops the fuzzer too.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
