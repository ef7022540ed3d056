//! The growth rule of the option structs, the same code for all three
//! (`docker_runtime_options`, `docker_call_options`, `docker_serve_options`).
//!
//! A struct grows only by appending fields; its first field is `size`, the struct's size as
//! the caller knows it (`sizeof` of the header it was compiled against). So a caller built on
//! an older header passes a smaller size, one built on a newer header a larger one, and:
//! - `_init(opts, size)` writes exactly `size` bytes: the defaults of the fields this library
//!   knows, zeros past them, and `size` itself;
//! - a reader copies `min(size, ours)` bytes over the defaults, so a field the caller's struct
//!   does not have keeps its default, and the library never reads past the caller's struct;
//! - bytes past the fields this library knows must be zero: a field a newer library added
//!   means "as before" when zero, so zeros are ignored, and anything else asks for something
//!   this library cannot do and is refused rather than silently dropped;
//! - a size below the first version of the struct, one that is not a multiple of the
//!   struct's alignment (it would cut a field in two) or one above [`MAX_SIZE`] (an
//!   uninitialised struct, most likely) is `DOCKER_ERR_INVALID_ARGUMENT`.

use std::mem::{align_of, size_of};

use super::guard::out_arg;
use super::result::{docker_result, FfiError, FfiResult};

/// The largest size an options struct may claim; a larger one is refused unread.
const MAX_SIZE: usize = 4096;

/// An options struct of the ABI that follows the growth rule.
///
/// # Safety
/// The type is `#[repr(C)]`, its first field is `size: usize`, every bit pattern of its
/// fields is a value (integers, raw pointers, optional function pointers), and `FIRST_SIZE`
/// is at most its size.
pub unsafe trait Growable: Copy {
    /// The C name, for messages (`docker_runtime_options`).
    const NAME: &'static str;
    /// Bytes of the struct's first version: `size` and the fields of version 1.
    const FIRST_SIZE: usize;
    /// Every field at its default; `size` is this library's own.
    fn defaults() -> Self;
}

fn invalid(msg: String) -> FfiError {
    FfiError::new(docker_result::DOCKER_ERR_INVALID_ARGUMENT, msg)
}

/// Check a size the caller claims for a `T`; `what` names it in the message.
fn check_size<T: Growable>(size: usize, what: &str) -> FfiResult<()> {
    let name = T::NAME;
    let init = format!("pass sizeof(struct {name}) to {name}_init");
    if size < T::FIRST_SIZE {
        return Err(invalid(format!(
            "{what} is {size}; the smallest struct {name} has {} bytes: {init}",
            T::FIRST_SIZE
        )));
    }
    if size % align_of::<T>() != 0 {
        return Err(invalid(format!(
            "{what} is {size}, not a multiple of the alignment of struct {name} ({}): {init}",
            align_of::<T>()
        )));
    }
    if size > MAX_SIZE {
        return Err(invalid(format!(
            "{what} is {size}, more than any struct {name} can have ({MAX_SIZE}): {init}"
        )));
    }
    Ok(())
}

/// `_init`: write the defaults into the caller's `size` bytes at `p`, zeros past the fields
/// this library knows, and set `size`.
///
/// # Safety
/// `p` is NULL or writable for `size` bytes.
pub unsafe fn init<T: Growable>(p: *mut T, size: usize) -> FfiResult<()> {
    out_arg(p, "opts")?;
    check_size::<T>(size, "size")?;
    let defaults = T::defaults();
    let ours = size_of::<T>();
    let dst = p.cast::<u8>();
    // SAFETY: p is writable for size bytes, and the copy is at most size bytes; defaults is a
    // local, so the regions cannot overlap.
    unsafe {
        std::ptr::copy_nonoverlapping((&raw const defaults).cast::<u8>(), dst, size.min(ours));
        if size > ours {
            std::ptr::write_bytes(dst.add(ours), 0, size - ours);
        }
        // size (at least FIRST_SIZE, which holds the size field) is the first field.
        dst.cast::<usize>().write_unaligned(size);
    }
    Ok(())
}

/// Read the caller's struct at `p` as this library knows it: its first `min(size, ours)`
/// bytes over the defaults; bytes past ours must be zero.
///
/// # Safety
/// `p` is NULL or readable for the `size` bytes it states in its first field.
pub unsafe fn read<T: Growable>(p: *const T) -> FfiResult<T> {
    out_arg(p.cast_mut(), "opts")?;
    let src = p.cast::<u8>();
    // SAFETY: every version of the struct starts with its size.
    let size = unsafe { src.cast::<usize>().read_unaligned() };
    check_size::<T>(size, "opts->size")?;
    let ours = size_of::<T>();
    let mut v = T::defaults();
    // SAFETY: p is readable for size bytes and at most size are read; every bit pattern of
    // the fields is a value (the trait's contract); v is a local.
    unsafe {
        std::ptr::copy_nonoverlapping(src, (&raw mut v).cast::<u8>(), size.min(ours));
    }
    if size > ours {
        // SAFETY: bytes ours..size are inside the caller's struct.
        let extra = unsafe { std::slice::from_raw_parts(src.add(ours), size - ours) };
        if let Some(i) = extra.iter().position(|&b| b != 0) {
            return Err(invalid(format!(
                "opts->size is {size} but this library (version {}) knows the first {ours} bytes \
                 of struct {}, and byte {} is not zero: the caller sets an option this library \
                 does not have",
                env!("CARGO_PKG_VERSION"),
                T::NAME,
                ours + i
            )));
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Version 1 is `size` and `a`; version 2 added `b` and `c`.
    #[repr(C)]
    #[derive(Debug, Clone, Copy, PartialEq)]
    struct Opts {
        size: usize,
        a: u32,
        b: u32,
        c: u64,
    }

    // SAFETY: repr(C), size first, integer fields, FIRST_SIZE <= 24.
    unsafe impl Growable for Opts {
        const NAME: &'static str = "opts";
        const FIRST_SIZE: usize = 16;
        fn defaults() -> Self {
            Opts {
                size: 24,
                a: 1,
                b: 2,
                c: 3,
            }
        }
    }

    #[test]
    fn an_older_caller_gets_the_defaults_of_what_it_lacks() {
        let mut buf = [0xABu64; 4];
        let p = buf.as_mut_ptr().cast::<Opts>();
        // SAFETY: buf is writable for 32 bytes; 16 are claimed.
        unsafe { init(p, 16) }.unwrap();
        assert_eq!((buf[0], buf[1] as u32), (16, 1));
        assert_eq!(&buf[2..], &[0xABu64; 2], "written past the caller's struct");
        // SAFETY: as above; the reader stays inside the 16 bytes the struct states.
        let o = unsafe { read(p) }.unwrap();
        assert_eq!((o.size, o.a, o.b, o.c), (16, 1, 2, 3));
    }

    #[test]
    fn a_newer_caller_gets_zeros_and_is_refused_when_it_sets_them() {
        let mut buf = [0xABu64; 5];
        let p = buf.as_mut_ptr().cast::<Opts>();
        // SAFETY: buf is writable for the 40 bytes claimed.
        unsafe { init(p, 40) }.unwrap();
        assert_eq!(buf, [40, 1 | (2 << 32), 3, 0, 0]);
        // SAFETY: readable for the 40 bytes it states.
        assert_eq!(unsafe { read(p) }.unwrap().c, 3);
        // SAFETY: the last of buf's 5 words, written through the pointer the library reads.
        unsafe { p.cast::<u64>().add(4).write(1 << 8) };
        // SAFETY: as above.
        let e = unsafe { read(p) }.unwrap_err();
        assert_eq!(e.code, docker_result::DOCKER_ERR_INVALID_ARGUMENT);
        assert!(e.message.contains("byte 33 is not zero"), "{}", e.message);
    }

    #[test]
    fn bad_sizes_are_refused_and_nothing_is_written() {
        let mut buf = [0xABu64; 4];
        let p = buf.as_mut_ptr().cast::<Opts>();
        for size in [0, 8, 20, MAX_SIZE + 8] {
            // SAFETY: refused before any write.
            let e = unsafe { init(p, size) }.unwrap_err();
            assert_eq!(e.code, docker_result::DOCKER_ERR_INVALID_ARGUMENT);
            assert!(e.message.contains("sizeof(struct opts)"), "{}", e.message);
            assert_eq!(buf, [0xABu64; 4]);
        }
        // SAFETY: NULL is refused.
        let e = unsafe { init(std::ptr::null_mut::<Opts>(), 24) }.unwrap_err();
        assert_eq!(e.code, docker_result::DOCKER_ERR_NULL_ARGUMENT);
    }
}
