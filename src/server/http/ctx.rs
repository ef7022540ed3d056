//! What a handler gets (the runtime, the connection, the request) and gives back.

use std::sync::Arc;

use serde_json::Value;

use super::wire::{self, ApiResult, Input, Limits, Request};
use crate::runtime::Runtime;
use crate::server::addr::Stream;

/// What a handler has for the client.
pub enum Reply {
    Json(u16, Value),
    /// A status without a body (204, 304).
    Empty(u16),
    /// The handler wrote the whole response itself.
    Sent,
}

/// One request being answered.
pub struct Ctx<'a> {
    pub rt: &'a Arc<Runtime>,
    pub sock: &'a Stream,
    pub req: Request,
    pub input: Input<'a>,
    pub limits: &'a Limits,
}

impl Ctx<'_> {
    /// The request's body as JSON, within the body limit.
    pub fn json<T: serde::de::DeserializeOwned>(&mut self) -> ApiResult<T> {
        let max = self.limits.body_bytes;
        wire::Body::new(&self.req, &mut self.input)?.json(max)
    }
}
