//! Capabilities: the bounding set cut down to the spec's set, and that set made the process's
//! effective and permitted set (for root; other users start without any). The inheritable set
//! is always empty, for every user (as docker since CVE-2022-24769), and so is the ambient set. The docker face's default set is
//! `container::spec::DEFAULT_CAPABILITIES`.

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Drop every capability outside `keep` from the bounding set and clear the ambient
/// set. Needs CAP_SETPCAP, so it runs before the user is switched.
pub fn drop_bounding(keep: &[u32]) -> Result<(), String> {
    for cap in 0..=last_cap() {
        if keep.contains(&cap) {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            // EINVAL: a capability this kernel does not know.
            if e.raw_os_error() != Some(libc::EINVAL) {
                return Err(format!("dropping capability {cap}: {e}"));
            }
        }
    }
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Make `keep` the effective and permitted sets and empty the inheritable set (`keep` is
/// empty for a user other than root).
pub fn set(keep: &[u32]) -> Result<(), String> {
    let mut lo = 0u32;
    let mut hi = 0u32;
    for &c in keep {
        if c < 32 {
            lo |= 1 << c;
        } else {
            hi |= 1 << (c - 32);
        }
    }
    let hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: lo,
            permitted: lo,
            inheritable: 0,
        },
        CapData {
            effective: hi,
            permitted: hi,
            inheritable: 0,
        },
    ];
    // SAFETY: capset reads a version-3 header and two data structs, which we pass.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &hdr, data.as_ptr()) };
    if rc != 0 {
        return Err(format!(
            "setting capabilities: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
