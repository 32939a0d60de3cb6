//! The system packages and tools the test command needs, checked before any long build: when
//! one is missing the command stops at once with the command that installs it.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::bail;

/// What the whole suite needs; `postgres` adds the PostgreSQL server binaries (needed when the
/// command starts its own cluster), `browser` Chromium (the portal's browser suite).
pub fn check(postgres: bool, browser: bool) -> anyhow::Result<()> {
    let mut missing: Vec<&str> = Vec::new();
    if browser && !Path::new(crate::portal_suite::CHROMIUM).exists() {
        missing.push("chromium");
    }
    if !on_path("xmlsec1") {
        missing.push("xmlsec1");
    }
    if !on_path("pkg-config") {
        missing.push("pkg-config");
    } else if !succeeds(Command::new("pkg-config").args(["--exists", "xmlsec1", "libxml-2.0"])) {
        missing.extend(["libxmlsec1-dev", "libxml2-dev"]);
    }
    if !has_libclang() {
        missing.push("libclang-dev");
    }
    if postgres && crate::postgres::bin_dir().is_none() {
        missing.push("postgresql");
    }
    if !missing.is_empty() {
        let packages = missing.join(" ");
        bail!("missing system packages: {packages}; install them with: apt-get install {packages}");
    }
    if !succeeds(crate::cargo().args(["nextest", "--version"])) {
        bail!("cargo-nextest is missing; install it with: cargo install cargo-nextest --locked");
    }
    Ok(())
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Where bindgen (samael's build) looks: `LIBCLANG_PATH`, else the Debian LLVM directories.
fn has_libclang() -> bool {
    if std::env::var_os("LIBCLANG_PATH").is_some() {
        return true;
    }
    let llvm_libs = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("llvm-"))
        .map(|e| e.path().join("lib"));
    llvm_libs
        .chain([Path::new("/usr/lib/x86_64-linux-gnu").to_path_buf()])
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .flatten()
        .any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("libclang.so")
                || (name.starts_with("libclang-") && !name.starts_with("libclang-cpp"))
        })
}
