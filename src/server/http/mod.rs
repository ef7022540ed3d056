//! The Docker Engine HTTP API (version 1.41, what docker 20.10 speaks) on the daemon's own
//! listeners: a connection whose first byte starts an HTTP method is served here, one whose
//! first byte is `[` is rcli ([`super::connection`] tells them apart). The subset served is
//! the one the docker CLI and docker-py use for what this runtime has; the README lists it.
//!
//! [`wire`] reads the request (httparse; head, body and time bounded) and writes responses;
//! [`serve`] routes a request to its handler: [`system`], [`containers`] (with [`create`]'s
//! body mapping), [`streams`] (wait, logs, attach, events), [`images`], [`volumes`],
//! [`auth`] (login and the credentials clients send).

pub mod auth;
pub mod containers;
pub mod create;
pub mod ctx;
pub mod exec;
pub mod images;
pub mod serve;
pub mod streams;
pub mod system;
pub mod volumes;
pub mod wire;

pub use serve::serve;
pub use wire::Limits;
