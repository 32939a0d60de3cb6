//! Third-party programs the identity tests run (tests/identity): `cargo xtask test` installs
//! them; without them these tests fail, saying how to install them.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// The test virtualenv's Python (`NEOFORGE_TEST_PYTHON`, default target/py).
pub fn python() -> PathBuf {
    let python = std::env::var_os("NEOFORGE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/py/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: run `cargo xtask test`, or create the virtualenv with \
         `python3 -m venv target/py && target/py/bin/pip install -r tests/requirements.txt`",
        python.display()
    );
    python
}

/// tests/identity's npm packages.
pub fn node_modules() -> PathBuf {
    let dir = workspace().join("tests/identity/node_modules");
    assert!(
        dir.exists(),
        "{} is missing: run `cargo xtask test`, or `npm ci` in tests/identity",
        dir.display()
    );
    dir
}

/// A program that prints one line when it is ready; killed when dropped.
pub struct Running {
    _child: Child,
    /// Its first line of output.
    pub ready: String,
}

pub async fn start(mut command: Command) -> Running {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the tool starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(crate::helpers::PATIENCE, lines.next_line())
        .await
        .expect("the tool is ready in time")
        .expect("read its output")
        .expect("it printed a line");
    // Keep draining so the tool never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Running {
        _child: child,
        ready,
    }
}
