//! The command line: well formed, and database URLs logged without their password.

use neoforge_server::config::{Cli, redact_url};

#[test]
fn passwords_are_redacted() {
    assert_eq!(
        redact_url("postgres://u:secret@h/db"),
        "postgres://u:***@h/db"
    );
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(redact_url("sqlite:neoforge.db"), "sqlite:neoforge.db");
}

#[test]
fn cli_is_well_formed() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}
