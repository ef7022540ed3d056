//! `POST /auth` (docker login: the credentials checked against the registry, then saved in
//! the daemon's `.dockercfg`) and the credentials clients send in `X-Registry-Auth`.
//!
//! The runtime pulls and pushes with the daemon's saved login. A client that sends
//! credentials is served when they are that login (what the docker CLI sends after a
//! `docker login` to this daemon); other credentials are refused rather than silently not
//! used.

use serde::Deserialize;
use serde_json::{json, Value};

use super::ctx::{Ctx, Reply};
use super::wire::{ApiError, ApiResult};
use crate::auth::{AuthConfig, Credential};
use crate::registry::Credentials;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AuthBody {
    username: String,
    password: String,
    email: String,
    serveraddress: String,
    identitytoken: String,
    registrytoken: String,
}

/// `POST /auth`.
pub fn login(ctx: &mut Ctx<'_>) -> ApiResult<Reply> {
    let body: Option<AuthBody> = ctx.json()?;
    let body = body.ok_or_else(|| ApiError::bad("send the credentials as a JSON object"))?;
    if !body.identitytoken.is_empty() || !body.registrytoken.is_empty() {
        return Err(ApiError::bad(
            "identity and registry tokens are not supported: log in with a username and password",
        ));
    }
    if body.username.is_empty() || body.username.contains(':') {
        return Err(ApiError::bad(format!(
            "invalid username {:?} (it may not be empty or hold ':')",
            body.username
        )));
    }
    let server = crate::registry::server_key(&body.serveraddress)?;
    let creds = Credentials {
        username: body.username.clone(),
        password: body.password.clone(),
    };
    crate::registry::login(server.as_deref(), creds, &ctx.rt.options().registry).map_err(|e| {
        let status = match e.kind() {
            crate::error::ErrorKind::PermissionDenied => 401,
            _ => ApiError::from(e.clone()).status,
        };
        ApiError::new(status, e.message().to_string())
    })?;
    let mut held = ctx.rt.auth();
    let mut cfg = AuthConfig::load(ctx.rt.root())?;
    cfg.set(Credential {
        server,
        username: body.username,
        password: body.password,
        email: body.email,
    });
    cfg.save(ctx.rt.root())?;
    *held = cfg;
    Ok(Reply::Json(
        200,
        json!({"Status": "Login Succeeded", "IdentityToken": ""}),
    ))
}

/// Check `X-Registry-Auth` for a transfer with the registry `domain` (None: the default):
/// nothing, or no credentials, or the daemon's saved login for it.
pub fn check_sent(ctx: &Ctx<'_>, domain: Option<&str>) -> ApiResult<()> {
    use base64::Engine;
    let Some(h) = ctx.req.header("x-registry-auth").filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    let engines = [
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::STANDARD,
    ];
    let decoded = engines.iter().find_map(|e| e.decode(h.trim()).ok());
    let v: Value = decoded
        .and_then(|d| serde_json::from_slice(&d).ok())
        .ok_or_else(|| ApiError::bad("X-Registry-Auth is not base64 of a JSON object"))?;
    let sent = serde_json::from_value::<AuthBody>(v)
        .map_err(|e| ApiError::bad(format!("X-Registry-Auth: {e}")))?;
    if !sent.identitytoken.is_empty() || !sent.registrytoken.is_empty() {
        return Err(ApiError::bad(
            "X-Registry-Auth: identity and registry tokens are not supported",
        ));
    }
    if sent.username.is_empty() && sent.password.is_empty() {
        return Ok(());
    }
    let saved = crate::registry::credentials(&ctx.rt.auth(), domain);
    match saved {
        Some(c) if c.username == sent.username && c.password == sent.password => Ok(()),
        _ => Err(ApiError::bad(format!(
            "the credentials in X-Registry-Auth are not this daemon's saved login for {}: log the daemon in first (docker login, POST /auth)",
            domain.unwrap_or(crate::registry::DEFAULT_REGISTRY)
        ))),
    }
}
