//! The developer portal's static site, as `cargo xtask portal` generated it into portal/site.
//! A crate of its own so the 6 MB it embeds compiles when the site changes, not with every
//! edit to the server.

use include_dir::{Dir, include_dir};

pub static SITE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/site");
