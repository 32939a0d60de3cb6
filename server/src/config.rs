//! Typed configuration from flags and `NEOFORGE_*` environment variables. Every default runs
//! with zero setup: SQLite in ./neoforge.db, 127.0.0.1:8080.

use std::net::SocketAddr;

use clap::{Parser, Subcommand, ValueEnum};

use domain::crypto::MasterKey;

#[derive(Debug, Parser)]
#[command(
    name = "neoforge",
    version,
    about = "NeoForge: billing, metering and tenancy for B2B SaaS"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at startup: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server (applies pending migrations first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
    /// Print the OpenAPI document to stdout.
    Spec,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Database URL: `sqlite:PATH` (created on first run) or `postgres://user@host/db`.
    #[arg(
        long,
        env = "NEOFORGE_DATABASE_URL",
        default_value = "sqlite:neoforge.db",
        hide_env_values = true
    )]
    pub database_url: String,

    /// Maximum pooled database connections.
    #[arg(long, env = "NEOFORGE_MAX_CONNECTIONS", default_value_t = 16)]
    pub max_connections: u32,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "NEOFORGE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub db: DbArgs,

    /// Log format.
    #[arg(long, env = "NEOFORGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "NEOFORGE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Lifetime of a dashboard session, in hours.
    #[arg(long, env = "NEOFORGE_SESSION_TTL_HOURS", default_value_t = 24 * 14)]
    pub session_ttl_hours: u32,

    /// Test only: honour `NeoForge-Fault` request headers (see the SDK test suites).
    #[arg(long, env = "NEOFORGE_INJECT_FAULTS", default_value_t = false)]
    pub inject_faults: bool,

    /// Seconds between runs of the billing scheduler (renewals on real time); 0 turns it off.
    #[arg(long, env = "NEOFORGE_BILLING_INTERVAL_SECS", default_value_t = 60)]
    pub billing_interval_secs: u64,

    /// Milliseconds between runs of the webhook delivery worker; 0 turns it off.
    #[arg(long, env = "NEOFORGE_WEBHOOK_INTERVAL_MS", default_value_t = 1000)]
    pub webhook_interval_ms: u64,

    /// Seconds in-flight requests get to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "NEOFORGE_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// The DNS server domain verification asks (`host:port`; default: the system's
    /// resolvers).
    #[arg(long, env = "NEOFORGE_DNS_SERVER")]
    pub dns_server: Option<SocketAddr>,

    #[command(flatten)]
    pub payments: PaymentArgs,

    #[command(flatten)]
    pub email: EmailArgs,
}

/// Transactional email to tenants' customers.
#[derive(Debug, Clone, clap::Args)]
pub struct EmailArgs {
    /// The SMTP server live emails go through: `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465`, or `smtp://host:25` (plain). Without it live
    /// emails are captured (listed, not sent).
    #[arg(long, env = "NEOFORGE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The SMTP server sandbox emails go through, such as a mail catcher; without it they
    /// are captured (listed with their content, never sent).
    #[arg(long, env = "NEOFORGE_SANDBOX_SMTP_URL", hide_env_values = true)]
    pub sandbox_smtp_url: Option<String>,

    /// The address every email comes from; each tenant sets the name shown with it.
    #[arg(long, env = "NEOFORGE_EMAIL_FROM", default_value = DEFAULT_EMAIL_FROM)]
    pub email_from: String,

    /// Milliseconds between runs of the email worker; 0 turns it off.
    #[arg(long, env = "NEOFORGE_EMAIL_INTERVAL_MS", default_value_t = 1000)]
    pub email_interval_ms: u64,
}

pub const DEFAULT_EMAIL_FROM: &str = "billing@neoforge.localhost";

impl Default for EmailArgs {
    fn default() -> Self {
        EmailArgs {
            smtp_url: None,
            sandbox_smtp_url: None,
            email_from: DEFAULT_EMAIL_FROM.to_owned(),
            email_interval_ms: 1000,
        }
    }
}

/// Payment providers: the master key for tenants' provider secrets, and where Stripe is.
#[derive(Debug, Clone, clap::Args)]
pub struct PaymentArgs {
    /// Master key sealing tenants' payment-provider secrets at rest: base64 of 32 random bytes
    /// (`openssl rand -base64 32`). Without it Stripe cannot be configured (the simulated
    /// provider needs nothing).
    #[arg(long, env = "NEOFORGE_ENCRYPTION_KEY", hide_env_values = true, value_parser = parse_master_key)]
    pub encryption_key: Option<MasterKey>,

    /// Base URL of Stripe's API (tests point it at a fake).
    #[arg(long, env = "NEOFORGE_STRIPE_API_BASE", default_value = DEFAULT_STRIPE_API_BASE)]
    pub stripe_api_base: String,

    /// This server's public base URL, for the webhook URLs given to Stripe (default: the
    /// request's Host header over https).
    #[arg(long, env = "NEOFORGE_PUBLIC_URL")]
    pub public_url: Option<String>,
}

pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com/";

impl Default for PaymentArgs {
    fn default() -> Self {
        PaymentArgs {
            encryption_key: None,
            stripe_api_base: DEFAULT_STRIPE_API_BASE.to_owned(),
            public_url: None,
        }
    }
}

fn parse_master_key(s: &str) -> Result<MasterKey, String> {
    MasterKey::parse(s)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// The URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
