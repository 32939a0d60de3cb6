#[cfg(feature = "saml")]
pub mod saml;
