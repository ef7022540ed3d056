//! Stand-alone address and port allocators (in memory; the runtime's own pools are persisted,
//! see `docker_runtime_ip_acquire`). Creation is O(1) whatever the pool size. Handles are
//! thread-safe.

use std::ffi::c_char;
use std::sync::{Mutex, MutexGuard};

use super::guard::{guard, guard_void, handle, ip_arg, out_arg, str_arg, write_str_out};
use super::result::{docker_result, FfiError};
use crate::network::{IpAllocator, PortAllocator};

/// Addresses of an IPv4 subnet minus its network, broadcast and gateway addresses.
pub struct docker_ip_allocator {
    inner: Mutex<IpAllocator>,
}

/// TCP ports of a range.
pub struct docker_port_allocator {
    inner: Mutex<PortAllocator>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An allocator over `cidr`: `10.0.3.1/24` names the gateway, `10.0.3.0/24` (the network
/// address) means the gateway is the first host. A bad CIDR (`10.0.0.0/33`, `abc`) or one
/// without a usable host (`/31`, `/32`) is `DOCKER_ERR_INVALID_ARGUMENT`. Release with
/// `docker_ip_allocator_free`.
#[no_mangle]
pub unsafe extern "C" fn docker_ip_allocator_new(
    cidr: *const c_char,
    out: *mut *mut docker_ip_allocator,
) -> docker_result {
    guard(|| {
        // SAFETY: cidr is NULL or a NUL-terminated string.
        let cidr = unsafe { str_arg(cidr, "cidr") }?;
        out_arg(out, "out")?;
        let a = IpAllocator::new(cidr)?;
        // SAFETY: out is non-NULL and writable.
        unsafe {
            *out = Box::into_raw(Box::new(docker_ip_allocator {
                inner: Mutex::new(a),
            }))
        };
        Ok(())
    })
}

/// Release an address allocator. NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn docker_ip_allocator_free(alloc: *mut docker_ip_allocator) {
    guard_void(|| {
        if !alloc.is_null() {
            // SAFETY: made by docker_ip_allocator_new, released once.
            drop(unsafe { Box::from_raw(alloc) });
        }
    })
}

/// Take a free address; writes it dotted and NUL-terminated into `buf` (`len` bytes; 16 always
/// suffice). An exhausted pool is `DOCKER_ERR_EXHAUSTED`.
#[no_mangle]
pub unsafe extern "C" fn docker_ip_allocator_acquire(
    alloc: *const docker_ip_allocator,
    buf: *mut c_char,
    len: usize,
) -> docker_result {
    guard(|| {
        // SAFETY: alloc is NULL or a live handle.
        let a = unsafe { handle(alloc, "alloc") }?;
        out_arg(buf, "buf")?;
        if len < 16 {
            return Err(FfiError::new(
                docker_result::DOCKER_ERR_BUFFER_TOO_SMALL,
                format!("buf holds {len} bytes; 16 are needed"),
            ));
        }
        let ip = lock(&a.inner).acquire()?;
        // SAFETY: buf is writable for len >= 16 bytes.
        unsafe { write_str_out(&ip.to_string(), buf, len, "buf") }
    })
}

/// Take the address `ip`; taken already is `DOCKER_ERR_IN_USE`, outside the pool
/// `DOCKER_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn docker_ip_allocator_acquire_specific(
    alloc: *const docker_ip_allocator,
    ip: *const c_char,
) -> docker_result {
    guard(|| {
        // SAFETY: alloc is NULL or a live handle; ip NULL or a string.
        let (a, ip) = unsafe { (handle(alloc, "alloc")?, str_arg(ip, "ip")?) };
        Ok(lock(&a.inner).acquire_specific(ip_arg(ip)?)?)
    })
}

/// Give `ip` back. Releasing an address that is not allocated is `DOCKER_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn docker_ip_allocator_release(
    alloc: *const docker_ip_allocator,
    ip: *const c_char,
) -> docker_result {
    guard(|| {
        // SAFETY: alloc is NULL or a live handle; ip NULL or a string.
        let (a, ip) = unsafe { (handle(alloc, "alloc")?, str_arg(ip, "ip")?) };
        Ok(lock(&a.inner).release(ip_arg(ip)?)?)
    })
}

/// Write the pool's gateway address into `buf` (`len` bytes; 16 always suffice).
#[no_mangle]
pub unsafe extern "C" fn docker_ip_allocator_gateway(
    alloc: *const docker_ip_allocator,
    buf: *mut c_char,
    len: usize,
) -> docker_result {
    guard(|| {
        // SAFETY: alloc is NULL or a live handle.
        let a = unsafe { handle(alloc, "alloc") }?;
        let gw = lock(&a.inner).gateway().to_string();
        // SAFETY: buf is NULL (checked inside) or writable for len bytes.
        unsafe { write_str_out(&gw, buf, len, "buf") }
    })
}

/// A port allocator over `first..=last`; 0 and 0 mean 49153-65535. A reversed range is
/// `DOCKER_ERR_INVALID_ARGUMENT`. Release with `docker_port_allocator_free`.
#[no_mangle]
pub unsafe extern "C" fn docker_port_allocator_new(
    first: u16,
    last: u16,
    out: *mut *mut docker_port_allocator,
) -> docker_result {
    guard(|| {
        out_arg(out, "out")?;
        let a = if (first, last) == (0, 0) {
            PortAllocator::default()
        } else {
            PortAllocator::new(first, last)?
        };
        // SAFETY: out is non-NULL and writable.
        unsafe {
            *out = Box::into_raw(Box::new(docker_port_allocator {
                inner: Mutex::new(a),
            }))
        };
        Ok(())
    })
}

/// Release a port allocator. NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn docker_port_allocator_free(alloc: *mut docker_port_allocator) {
    guard_void(|| {
        if !alloc.is_null() {
            // SAFETY: made by docker_port_allocator_new, released once.
            drop(unsafe { Box::from_raw(alloc) });
        }
    })
}

/// Take a free port into `*port`. An exhausted range is `DOCKER_ERR_EXHAUSTED`.
#[no_mangle]
pub unsafe extern "C" fn docker_port_allocator_acquire(
    alloc: *const docker_port_allocator,
    port: *mut u16,
) -> docker_result {
    guard(|| {
        // SAFETY: alloc is NULL or a live handle.
        let a = unsafe { handle(alloc, "alloc") }?;
        out_arg(port, "port")?;
        let p = lock(&a.inner).acquire()?;
        // SAFETY: port is non-NULL and writable.
        unsafe { *port = p };
        Ok(())
    })
}

/// Take `port`; taken already is `DOCKER_ERR_IN_USE`, outside the range
/// `DOCKER_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn docker_port_allocator_acquire_specific(
    alloc: *const docker_port_allocator,
    port: u16,
) -> docker_result {
    guard(|| {
        // SAFETY: alloc is NULL or a live handle.
        let a = unsafe { handle(alloc, "alloc") }?;
        Ok(lock(&a.inner).acquire_specific(port)?)
    })
}

/// Give `port` back; a port that is not allocated is `DOCKER_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn docker_port_allocator_release(
    alloc: *const docker_port_allocator,
    port: u16,
) -> docker_result {
    guard(|| {
        // SAFETY: alloc is NULL or a live handle.
        let a = unsafe { handle(alloc, "alloc") }?;
        Ok(lock(&a.inner).release(port)?)
    })
}
