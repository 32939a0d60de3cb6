//! Every call this server makes to addresses its tenants give it: webhook deliveries, OpenID
//! providers (discovery, tokens, keys), SAML metadata URLs, DNS lookups for domain
//! verification. One place bounds them in time and, for live mode, keeps them off internal
//! networks (server-side request forgery):
//!
//! - a live call reaches public addresses only (`is_public`). An address written in the URL
//!   is checked before the request is sent; a name is checked where it resolves, in the
//!   connector's resolver, so the address connected to is the address checked and DNS
//!   rebinding cannot slip past. Redirects are never followed and no proxy is used.
//! - the sandbox may call anything, so a local receiver or provider works while developing.
//! - `HTTP_TIMEOUT` bounds a whole HTTP exchange (connecting within `CONNECT_TIMEOUT`),
//!   `DNS_TIMEOUT` every lookup.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::tenancy::Env;
use domain::net::is_public;

/// A whole HTTP exchange, from connecting to the last byte of the answer.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One DNS lookup, all its servers and retries included.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a call did not happen or did not finish. Its text carries the causes.
#[derive(Debug)]
pub enum Error {
    NotPublic(String),
    Http(reqwest::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NotPublic(what) => write!(
                f,
                "{what} is not a public address, and live mode calls public addresses only"
            ),
            Error::Http(e) if e.is_timeout() => {
                write!(f, "timed out after {} s", HTTP_TIMEOUT.as_secs())
            }
            Error::Http(e) => {
                let what = if e.is_connect() {
                    "connection failed"
                } else {
                    "request failed"
                };
                let causes = std::error::Error::source(e).map(with_causes);
                write!(
                    f,
                    "{what}{}",
                    causes.map(|c| format!(": {c}")).unwrap_or_default()
                )
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        Error::Http(e)
    }
}

/// An error and its causes, `: `-separated (crates' errors often say only "request failed").
pub fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The outbound clients: one per environment, and the resolver they share.
#[derive(Clone)]
pub struct Outbound {
    live: Client,
    sandbox: Client,
    dns: TokioResolver,
}

/// An HTTP client of one environment.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    public_only: bool,
}

impl Outbound {
    /// `dns_server` replaces the system's resolvers (a test runs its own DNS server).
    pub fn new(dns_server: Option<SocketAddr>) -> anyhow::Result<Self> {
        let dns = resolver(dns_server)?;
        let http = |resolver: Option<PublicOnly>| {
            let builder = reqwest::Client::builder()
                .timeout(HTTP_TIMEOUT)
                .connect_timeout(CONNECT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .user_agent(concat!("NeoForge/", env!("CARGO_PKG_VERSION")));
            match resolver {
                Some(r) => builder.dns_resolver(r),
                None => builder,
            }
            .build()
        };
        Ok(Outbound {
            live: Client {
                http: http(Some(PublicOnly(dns.clone())))?,
                public_only: true,
            },
            sandbox: Client {
                http: http(None)?,
                public_only: false,
            },
            dns,
        })
    }

    pub fn client(&self, env: Env) -> &Client {
        match env {
            Env::Live => &self.live,
            Env::Test => &self.sandbox,
        }
    }

    /// The TXT strings published at `name`; none when it does not exist.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, String> {
        let lookup = tokio::time::timeout(DNS_TIMEOUT, self.dns.txt_lookup(format!("{name}.")))
            .await
            .map_err(|_| format!("no answer within {} s", DNS_TIMEOUT.as_secs()))?;
        match lookup {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|s| String::from_utf8_lossy(s))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Client {
    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }

    /// Sends a request made by `request`; in live mode only to a public address.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, Error> {
        let request = request.build()?;
        if self.public_only {
            // A name is checked by the resolver; an address is never resolved, so here.
            let literal = request
                .url()
                .host_str()
                .and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse().ok());
            if let Some(ip) = literal.filter(|ip| !is_public(*ip)) {
                return Err(Error::NotPublic(ip.to_string()));
            }
        }
        Ok(self.http.execute(request).await?)
    }
}

fn resolver(server: Option<SocketAddr>) -> anyhow::Result<TokioResolver> {
    let mut builder = match server {
        None => Resolver::builder_tokio()?,
        Some(addr) => {
            let connection = |mut c: ConnectionConfig| {
                c.port = addr.port();
                c
            };
            let ns = NameServerConfig::new(
                addr.ip(),
                true,
                vec![
                    connection(ConnectionConfig::udp()),
                    connection(ConnectionConfig::tcp()),
                ],
            );
            Resolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
    };
    let options = builder.options_mut();
    // Verification must see a record as soon as it is published, and a name is checked each
    // time it is connected to: no caching.
    options.cache_size = 0;
    // DNS_TIMEOUT around each lookup is the one bound: the resolver's own is longer.
    options.timeout = DNS_TIMEOUT * 2;
    options.attempts = 1;
    Ok(builder.build()?)
}

/// The live client's resolver: a name's public addresses, or an error when it has none.
struct PublicOnly(TokioResolver);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let dns = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::time::timeout(DNS_TIMEOUT, dns.lookup_ip(host.as_str()))
                .await
                .map_err(|_| {
                    format!(
                        "no DNS answer for {host} within {} s",
                        DNS_TIMEOUT.as_secs()
                    )
                })??;
            let public: Vec<SocketAddr> = found
                .iter()
                .filter(|ip| is_public(*ip))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if public.is_empty() {
                return Err(Error::NotPublic(format!("{host} (as resolved)")).into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}
