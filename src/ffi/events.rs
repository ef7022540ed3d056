//! The runtime's events (`docker events`) delivered to a callback on a library thread.

use std::ffi::{c_char, c_int, c_void, CString};

use super::guard::{guard, guard_void, handle, out_arg, Userdata};
use super::result::{docker_result, FfiError};
use super::runtime::docker_runtime;
use crate::events::Subscription;

/// One subscription to the runtime's events, made by `docker_runtime_events` and ended by
/// `docker_subscription_free`.
pub struct docker_subscription {
    _sub: Subscription,
}

/// Receives one event as JSON (borrowed for the call): `{"Type":"container"|"image",
/// "Action":"create"|"start"|"die"|"destroy"|"rename"|"pull"|"import"|"tag"|"untag"|"delete",
/// "Actor":{"ID":"...","Attributes":{...}},"time":unix_s,"timeNano":ns}`; a `die` has
/// `Attributes.exitCode`, container events `Attributes.image` and `Attributes.name` (the
/// container's), image events (but `import`, `delete`) `Attributes.name`. Runs on the
/// subscription's own library thread, one call at
/// a time, in the order the events happened. Nonzero ends the subscription (no more calls;
/// still free it).
pub type docker_event_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, json: *const c_char) -> c_int>;

/// Subscribe to the runtime's events from now on: `cb` gets each one on a library thread
/// until it returns nonzero or the subscription is freed. A handle goes to `*out` (free it
/// with `docker_subscription_free`). Events are queued per subscription, at most 1024: a
/// callback that falls that far behind loses its subscription (no more calls; the runtime
/// is never slowed down by a slow host). Does not block. Errors:
/// `DOCKER_ERR_NULL_ARGUMENT` (rt, cb or out NULL), `DOCKER_ERR_IO` (no thread).
#[no_mangle]
pub unsafe extern "C" fn docker_runtime_events(
    rt: *const docker_runtime,
    cb: docker_event_callback,
    userdata: *mut c_void,
    out: *mut *mut docker_subscription,
) -> docker_result {
    guard(|| {
        // SAFETY: rt is NULL or a live handle.
        let r = unsafe { handle(rt, "rt") }?;
        out_arg(out, "out")?;
        let cb =
            cb.ok_or_else(|| FfiError::new(docker_result::DOCKER_ERR_NULL_ARGUMENT, "cb is NULL"))?;
        let ud = Userdata(userdata);
        let sub = Subscription::start(r.rt.events(), move |e| {
            let text = CString::new(e.to_json()).unwrap_or_default();
            // SAFETY: the host registered cb with this userdata; text lives for the call.
            unsafe { cb(ud.ptr(), text.as_ptr()) == 0 }
        })?;
        let handle = Box::new(docker_subscription { _sub: sub });
        // SAFETY: out is non-NULL (checked) and writable.
        unsafe { *out = Box::into_raw(handle) };
        Ok(())
    })
}

/// End a subscription (NULL does nothing): a callback in progress is waited for, and once
/// this returns the callback is not called again. May be called from any thread but from
/// inside the subscription's own callback.
#[no_mangle]
pub unsafe extern "C" fn docker_subscription_free(s: *mut docker_subscription) {
    guard_void(|| {
        if !s.is_null() {
            // SAFETY: made by docker_runtime_events, released once.
            drop(unsafe { Box::from_raw(s) });
        }
    })
}
