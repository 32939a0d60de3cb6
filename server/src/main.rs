//! The `neoforge` binary: parses the command line, sets up logging, and serves, migrates or
//! prints the spec.

use clap::Parser;
use neoforge_server::config::{Cli, Command, LogFormat};
use neoforge_server::{app, openapi};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NEOFORGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            init_logging(args.log_format);
            let server = app::start(&args).await?;
            app::shutdown_signal().await;
            server.stop().await?;
        }
        Command::Migrate(args) => {
            init_logging(LogFormat::Human);
            let db = store::Db::connect(&args.database_url, 1).await?;
            db.migrate().await?;
            db.close().await;
            tracing::info!("migrations applied");
        }
        Command::Spec => print!("{}", openapi::render()),
    }
    Ok(())
}
