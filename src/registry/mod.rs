//! The registry client (Docker Registry HTTP API v2 / OCI distribution spec): `pull`, `push`
//! and `login`'s check, replacing v0.1.0's long-gone v1 registry API.
//!
//! What other parts call:
//! - [`Reference::parse`] (`[host[:port]/]repo[:tag][@sha256:HEX]`) and [`server_key`];
//! - [`pull()`] (manifest, config, layers verified while streaming into the graph, tagged),
//!   [`push()`] (layers the registry lacks, config, manifest) and [`login()`];
//! - [`Progress`], the per-layer progress display both write to.
//!
//! This layer sits below the runtime: pull and push take the image [`Graph`](crate::image::Graph)
//! and the [`TagStore`](crate::tags::TagStore) they work on and the [`Credentials`] to present,
//! nothing more. The caller finds those with [`credentials`] in the saved
//! `ROOT/.dockercfg` ([`crate::auth`]): the header-less block for the default registry
//! (Docker Hub), `[HOST:PORT]` blocks for others.

pub mod client;
pub mod digest;
pub mod gzip;
pub mod manifest;
pub mod name;
pub mod progress;
pub mod pull;
pub mod push;

pub use client::{Client, Credentials};
pub use digest::Digest;
pub use name::{server_key, Reference, DEFAULT_REGISTRY};
pub use progress::Progress;
pub use pull::{pull, Pulled};
pub use push::push;

use crate::auth::AuthConfig;
use crate::error::Result;

/// The credentials `auth` (the saved `ROOT/.dockercfg`) holds for the registry `domain`
/// (`None`: the default one).
pub fn credentials(auth: &AuthConfig, domain: Option<&str>) -> Option<Credentials> {
    auth.get(domain).map(|c| Credentials {
        username: c.username.clone(),
        password: c.password.clone(),
    })
}

/// Check `creds` against the registry `host` (`None`: the default registry): `GET /v2/`,
/// meeting its basic or bearer challenge. A refusal is a `PermissionDenied` error that says
/// the username or password is wrong.
pub fn login(host: Option<&str>, creds: Credentials) -> Result<()> {
    let host = host.unwrap_or(DEFAULT_REGISTRY);
    Client::new(host, "", Some(creds)).login()
}

/// How many layers pull and push move at once (docker's default for downloads).
pub const CONCURRENT_LAYERS: usize = 3;

/// Run `work(i)` for every `i` in `0..n` on up to `workers` threads, taking indexes in order,
/// and hand each result to `take(i, value)` on the calling thread in index order as soon as
/// it and all before it are ready. The first error (from `work` or `take`) sets `cancel`, so
/// that workers start nothing more (and readers watching it stop), and is returned once every
/// worker has stopped; results not yet taken are dropped.
pub(crate) fn ordered_parallel<T: Send>(
    n: usize,
    workers: usize,
    cancel: &std::sync::atomic::AtomicBool,
    work: impl Fn(usize) -> Result<T> + Sync,
    mut take: impl FnMut(usize, T) -> Result<()>,
) -> Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex};

    let slots: Mutex<Vec<Option<Result<T>>>> = Mutex::new((0..n).map(|_| None).collect());
    let ready = Condvar::new();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, n.max(1)) {
            s.spawn(|| loop {
                if cancel.load(Ordering::SeqCst) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    break;
                }
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(i)))
                    .unwrap_or_else(|_| {
                        Err(crate::error::Error::new(
                            crate::error::ErrorKind::Io,
                            "a layer transfer panicked",
                        ))
                    });
                slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                ready.notify_all();
            });
        }
        let mut result = Ok(());
        for i in 0..n {
            let mut guard = slots.lock().unwrap_or_else(|e| e.into_inner());
            while guard[i].is_none() {
                guard = ready.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            let r = guard[i].take();
            drop(guard);
            if let Some(r) = r {
                if let Err(e) = r.and_then(|v| take(i, v)) {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_err() {
            cancel.store(true, Ordering::SeqCst);
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn ordered_parallel_keeps_order_and_stops_on_error() {
        let cancel = AtomicBool::new(false);
        let mut seen = Vec::new();
        ordered_parallel(
            20,
            3,
            &cancel,
            |i| {
                std::thread::sleep(std::time::Duration::from_millis((20 - i as u64) % 7));
                Ok(i * 10)
            },
            |i, v| {
                seen.push((i, v));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, (0..20).map(|i| (i, i * 10)).collect::<Vec<_>>());

        let cancel = AtomicBool::new(false);
        let mut taken = Vec::new();
        let e = ordered_parallel(
            50,
            2,
            &cancel,
            |i| {
                if i == 3 {
                    Err(Error::invalid("layer 3 failed"))
                } else {
                    Ok(i)
                }
            },
            |i, _| {
                taken.push(i);
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(e.message(), "layer 3 failed");
        assert_eq!(taken, vec![0, 1, 2]);
        assert!(cancel.load(std::sync::atomic::Ordering::SeqCst));
    }
}
