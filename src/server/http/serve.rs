//! One Engine API connection: read the request, route it to its handler, send the answer
//! (or let the handler stream it), close.

use std::sync::Arc;

use super::ctx::{Ctx, Reply};
use super::wire::{self, ApiError, ApiResult, HeadError, Limits};
use super::{auth, containers, exec, images, streams, system, volumes};
use crate::log::Logger;
use crate::runtime::Runtime;
use crate::server::addr::Stream;

/// How a connection ended, for the log: the status sent, if any.
pub type Served = Option<u16>;

/// Serve one connection. `rt` None: every request is answered 501 (an executor without a
/// runtime). `starting` is called once the request head is read.
pub fn serve(
    id: u64,
    sock: &Stream,
    rt: Option<&Arc<Runtime>>,
    limits: &Limits,
    logger: &Logger,
    starting: &dyn Fn(),
) -> Served {
    let (req, input) = match wire::read_head(sock, limits) {
        Ok(r) => r,
        Err(HeadError::Empty) => return None,
        Err(HeadError::Refuse(status, msg)) => {
            logger.debug(&format!("connection {id}: HTTP refused: {msg}"));
            let _ = wire::send_error(sock, &ApiError::new(status, msg));
            wire::linger_close(sock);
            return Some(status);
        }
    };
    starting();
    // From here the timeout bounds each wait for the client's bytes (a body that stalls);
    // the streaming endpoints poll the socket rather than read it.
    let _ = sock.set_read_timeout(Some(limits.timeout));
    logger.debug(&format!(
        "connection {id} ({}): {} {}",
        sock.peer(),
        req.method,
        req.path
    ));
    let Some(rt) = rt else {
        let e = ApiError::new(501, "this daemon does not serve the Engine API");
        let _ = wire::send_error(sock, &e);
        wire::linger_close(sock);
        return Some(501);
    };
    let mut ctx = Ctx {
        rt,
        sock,
        req,
        input,
        limits,
    };
    let status = match route(&mut ctx) {
        Ok(Reply::Json(status, v)) => {
            let _ = wire::send_json(sock, status, &v);
            Some(status)
        }
        Ok(Reply::Empty(status)) => {
            let _ = wire::send(sock, status, &[], b"");
            Some(status)
        }
        Ok(Reply::Sent) => Some(200),
        Err(e) => {
            logger.debug(&format!("connection {id}: {} {}", e.status, e.message));
            let _ = wire::send_error(sock, &e);
            Some(e.status)
        }
    };
    wire::linger_close(sock);
    status
}

/// The endpoint a request names.
fn route(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    let path = ctx.req.path.clone();
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = ctx.req.method.clone();
    match (method.as_str(), seg.as_slice()) {
        ("GET" | "HEAD", ["_ping"]) => system::ping(ctx),
        ("GET", ["version"]) => system::version(ctx),
        ("GET", ["info"]) => system::info(ctx),
        ("GET", ["events"]) => streams::events(ctx),
        ("POST", ["auth"]) => auth::login(ctx),
        ("GET", ["containers", "json"]) => containers::list(ctx),
        ("POST", ["containers", "create"]) => containers::create(ctx),
        ("GET", ["containers", id, "json"]) => containers::inspect(ctx, id),
        ("DELETE", ["containers", id]) => containers::remove(ctx, id),
        ("POST", ["containers", id, "start"]) => containers::start(ctx, id),
        ("POST", ["containers", id, "stop"]) => containers::stop(ctx, id),
        ("POST", ["containers", id, "restart"]) => containers::restart(ctx, id),
        ("POST", ["containers", id, "kill"]) => containers::kill(ctx, id),
        ("POST", ["containers", id, "resize"]) => containers::resize(ctx, id),
        ("POST", ["containers", id, "pause"]) => containers::pause(ctx, id, true),
        ("POST", ["containers", id, "unpause"]) => containers::pause(ctx, id, false),
        ("GET", ["containers", id, "changes"]) => containers::changes(ctx, id),
        ("GET", ["containers", id, "top"]) => containers::top(ctx, id),
        ("GET", ["containers", id, "export"]) => containers::export(ctx, id),
        ("POST", ["containers", id, "wait"]) => streams::wait(ctx, id),
        ("GET", ["containers", id, "logs"]) => streams::logs(ctx, id),
        ("POST", ["containers", id, "attach"]) => streams::attach(ctx, id),
        ("POST", ["containers", id, "exec"]) => exec::create(ctx, id),
        ("POST", ["exec", id, "start"]) => exec::start(ctx, id),
        ("POST", ["exec", id, "resize"]) => exec::resize(ctx, id),
        ("GET", ["exec", id, "json"]) => exec::inspect(ctx, id),
        ("GET", ["images", "json"]) => images::list(ctx),
        ("POST", ["images", "create"]) => images::create(ctx),
        ("POST", ["commit"]) => images::commit(ctx),
        ("GET", ["images", "get"]) => images::save(ctx, None),
        ("POST", ["images", "load"]) => images::load(ctx),
        ("GET", ["images", rest @ .., "get"]) if !rest.is_empty() => {
            images::save(ctx, Some(&rest.join("/")))
        }
        ("GET", ["images", rest @ .., "json"]) if !rest.is_empty() => {
            images::inspect(ctx, &rest.join("/"))
        }
        ("GET", ["images", rest @ .., "history"]) if !rest.is_empty() => {
            images::history(ctx, &rest.join("/"))
        }
        ("POST", ["images", rest @ .., "push"]) if !rest.is_empty() => {
            images::push(ctx, &rest.join("/"))
        }
        ("POST", ["images", rest @ .., "tag"]) if !rest.is_empty() => {
            images::tag(ctx, &rest.join("/"))
        }
        ("DELETE", ["images", rest @ ..]) if !rest.is_empty() => {
            images::remove(ctx, &rest.join("/"))
        }
        ("GET", ["volumes"]) => volumes::list(ctx),
        ("POST", ["volumes", "create"]) => volumes::create(ctx),
        ("POST", ["volumes", "prune"]) => volumes::prune(ctx),
        ("GET", ["volumes", name]) => volumes::inspect(ctx, name),
        ("DELETE", ["volumes", name]) => volumes::remove(ctx, name),
        _ => Err(ApiError::new(
            404,
            format!(
                "{method} {path} is not supported by this daemon (docker-runtime serves a subset of Engine API {}; see its README)",
                wire::API_VERSION
            ),
        )),
    }
}
