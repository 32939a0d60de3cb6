//! `sdk-gen`: the command line of the NeoForge SDK generator.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use sdk_gen::{
    compat::{self, Severity, report},
    load::load_spec,
    pipeline, portal, release,
};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate every SDK from SPEC into OUT (one folder per language). With --check, write
    /// nothing and exit 1 when a file differs.
    Generate {
        #[arg(long, default_value = "openapi/v1.json")]
        spec: PathBuf,
        #[arg(long, default_value = "sdks")]
        out: PathBuf,
        #[arg(long)]
        check: bool,
    },
    /// List every change from BASE to HEAD (OpenAPI 3.0/3.1, JSON or YAML). Exits 1 when a
    /// change is at least as severe as --fail-on, 2 when a document cannot be read.
    Diff {
        base: PathBuf,
        head: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        #[arg(long, value_enum, default_value_t = FailOn::Breaking)]
        fail_on: FailOn,
    },
    /// Rewrite the developer portal (ROOT/portal/site) from scratch, from ROOT's spec,
    /// portal templates and guides, so the pages of removed operations go too.
    Portal {
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
    /// Freeze OPENAPI/v1.json as OPENAPI/releases/vVERSION.json and regenerate
    /// OPENAPI/CHANGELOG.md from the releases' diffs.
    Release {
        version: String,
        #[arg(long, default_value = "openapi")]
        openapi: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Breaking,
    Warning,
}

/// Exit status 2 for any error (a document that cannot be read or written); 1 is kept for
/// what a command found (stale files, changes past `--fail-on`).
fn main() -> ExitCode {
    let Cli { command } = Cli::parse();
    let result = match command {
        Command::Generate { spec, out, check } => {
            generate(&spec, &out, check).map(|current| ExitCode::from(u8::from(!current)))
        }
        Command::Portal { root } => write_portal(&root).map(|()| ExitCode::SUCCESS),
        Command::Release { version, openapi } => {
            freeze(&openapi, &version).map(|()| ExitCode::SUCCESS)
        }
        Command::Diff {
            base,
            head,
            format,
            fail_on,
        } => diff(&base, &head, format).map(|worst| {
            let threshold = match fail_on {
                FailOn::Breaking => Severity::Breaking,
                FailOn::Warning => Severity::Warning,
            };
            ExitCode::from(u8::from(worst.is_some_and(|worst| worst >= threshold)))
        }),
    };
    result.unwrap_or_else(|error| {
        eprintln!("sdk-gen: error: {error:#}");
        ExitCode::from(2)
    })
}

fn write_portal(root: &Path) -> Result<()> {
    let files = portal::generate(root)?;
    let site = root.join("portal/site");
    if site.exists() {
        std::fs::remove_dir_all(&site)?;
    }
    pipeline::write(&site, &files)?;
    eprintln!(
        "sdk-gen portal: wrote {} files under {}",
        files.len(),
        site.display()
    );
    Ok(())
}

fn freeze(openapi: &Path, version: &str) -> Result<()> {
    let frozen = release::freeze(openapi, version)?;
    let changelog = openapi.join(release::CHANGELOG);
    std::fs::write(&changelog, release::changelog(openapi)?)?;
    eprintln!(
        "sdk-gen release: froze {} and updated {}",
        frozen.display(),
        changelog.display()
    );
    Ok(())
}

/// Writes (or, with `check`, compares) the SDKs; false when `check` found stale files.
fn generate(spec: &Path, out: &Path, check: bool) -> Result<bool> {
    let files = pipeline::generate(spec)?;
    let stale = pipeline::stale(out, &files);
    if check {
        for path in &stale {
            eprintln!("stale: {}", out.join(path).display());
        }
        return Ok(stale.is_empty());
    }
    pipeline::write(out, &files)?;
    eprintln!(
        "sdk-gen generate: {} files, {} changed",
        files.len(),
        stale.len()
    );
    Ok(true)
}

/// Prints the changes; returns the worst severity among them.
fn diff(base: &Path, head: &Path, format: Format) -> Result<Option<Severity>> {
    let changes = compat::diff(&load_spec(base)?, &load_spec(head)?).with_context(|| {
        format!(
            "comparing {} (base) with {} (head)",
            base.display(),
            head.display()
        )
    })?;
    let output = match format {
        Format::Text => report::text(&changes),
        Format::Json => report::json(&changes)?,
        Format::Markdown => report::markdown(&changes),
    };
    print!("{output}");
    let count = |s| changes.iter().filter(|c| c.severity == s).count();
    eprintln!(
        "sdk-gen diff: {} breaking, {} warning(s), {} info",
        count(Severity::Breaking),
        count(Severity::Warning),
        count(Severity::Info)
    );
    Ok(changes.iter().map(|c| c.severity).max())
}
