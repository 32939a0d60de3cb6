//! Identity: how organizations bring their own directory and sign-in.

pub mod scim;
