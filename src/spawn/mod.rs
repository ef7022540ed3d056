//! Starting a container through the `docker-init` helper: the protocol both sides speak.

pub mod protocol;
