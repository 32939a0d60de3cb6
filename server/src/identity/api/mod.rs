//! Identity endpoints: connections and domains (tenant configuration), and the browser's
//! single sign-on flow.

pub mod connections;
pub mod domains;
pub mod saml;
pub mod sso;
