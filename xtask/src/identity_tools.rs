//! The identity tools the Rust tests share, started once per run: one OpenID provider
//! process (each test creates a provider of its own in it), one DNS server (each test
//! writes a zone file of its own in its directory) and one pysaml2 IdP (each test's keys
//! and metadata in a directory of its own). Stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

pub struct IdentityTools {
    children: Vec<Child>,
    zones: PathBuf,
    /// The variables that tell the tests where the tools are.
    pub env: Vec<(&'static str, String)>,
}

impl IdentityTools {
    pub fn start(root: &Path, python: &Path) -> anyhow::Result<Self> {
        let zones = std::env::temp_dir().join(format!("neoforge-zones-{}", std::process::id()));
        std::fs::create_dir_all(&zones)?;
        let mut tools = IdentityTools {
            children: Vec::new(),
            zones,
            env: Vec::new(),
        };
        let mut oidc = Command::new("node");
        oidc.arg("oidc_provider.mjs")
            .current_dir(root.join("tests/identity"));
        let ready: serde_json::Value = serde_json::from_str(&tools.spawn(oidc)?)?;
        let base = ready["base"].as_str().context("the provider's base URL")?;
        tools.env.push(("NEOFORGE_TEST_OIDC", base.to_owned()));
        let mut dns = Command::new(python);
        dns.arg(root.join("tests/identity/dns_server.py"))
            .arg(&tools.zones);
        let port = tools.spawn(dns)?;
        tools
            .env
            .push(("NEOFORGE_TEST_DNS", port.trim().to_owned()));
        let zones = tools.zones.display().to_string();
        tools.env.push(("NEOFORGE_TEST_DNS_ZONES", zones));
        let mut saml = Command::new(python);
        saml.arg(root.join("tests/identity/saml_idp.py"))
            .arg("serve");
        let port = tools.spawn(saml)?;
        let url = format!("http://127.0.0.1:{}/", port.trim());
        tools.env.push(("NEOFORGE_TEST_SAML_IDP", url));
        Ok(tools)
    }

    /// Starts a tool that prints one line when it is ready, and returns the line.
    fn spawn(&mut self, mut command: Command) -> anyhow::Result<String> {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("start {command:?}"))?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        self.children.push(child);
        let Some(ready) = lines.next().transpose()? else {
            bail!("{command:?} exited before it was ready");
        };
        // Keep draining, so the tool never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(ready)
    }
}

impl Drop for IdentityTools {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.zones);
    }
}
