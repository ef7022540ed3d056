//! A new volume takes the image's content at its mount path, as docker does: when the volume
//! is empty, what the container's root file system has there (folders, regular files and
//! symbolic links, with their owners and modes) is copied into it before the first start.
//! The path is resolved inside the root (`RESOLVE_IN_ROOT`) and every entry is taken through
//! a descriptor without following links, so an image's links cannot make the copy read or
//! write outside the root and the volume.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{self, AtFlags, OFlag};
use nix::sys::stat::{self, FileStat, Mode};
use nix::unistd::{self, Gid, Uid};

use crate::error::{Error, Result};
use crate::image::fsat::{self, ProcFds};

fn open_dir(path: &Path) -> Result<OwnedFd> {
    fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::errno(format_args!("opening {}", path.display()), e))
}

/// Give `fd` the owner and mode of `st`.
fn own(fd: BorrowedFd<'_>, st: &FileStat) -> io::Result<()> {
    unistd::fchown(
        fd,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )
    .map_err(fsat::errno_io)?;
    stat::fchmod(fd, Mode::from_bits_truncate(st.st_mode & 0o7777)).map_err(fsat::errno_io)
}

/// Copy one entry `name` of `src` into `dst` (which lacks it).
fn copy_entry(
    procfds: &ProcFds,
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &[u8],
) -> io::Result<()> {
    let (held, st) = fsat::hold_at(src, name).map_err(fsat::errno_io)?;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            stat::mkdirat(dst, name, Mode::from_bits_truncate(0o700)).map_err(fsat::errno_io)?;
            let from = procfds.reopen(held.as_fd(), &st, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
            let to = fsat::open_dir_at(dst, name).map_err(fsat::errno_io)?;
            copy_tree(procfds, from.as_fd(), to.as_fd())?;
            own(to.as_fd(), &st)
        }
        libc::S_IFREG => {
            let from = procfds.reopen(held.as_fd(), &st, OFlag::O_RDONLY)?;
            let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY;
            let to = fcntl::openat(
                dst,
                name,
                flags | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )
            .map_err(fsat::errno_io)?;
            io::copy(&mut File::from(from), &mut &File::from(to.try_clone()?))?;
            own(to.as_fd(), &st)
        }
        libc::S_IFLNK => {
            let target = fcntl::readlinkat(held.as_fd(), "").map_err(fsat::errno_io)?;
            unistd::symlinkat(target.as_os_str(), dst, name).map_err(fsat::errno_io)?;
            unistd::fchownat(
                dst,
                name,
                Some(Uid::from_raw(st.st_uid)),
                Some(Gid::from_raw(st.st_gid)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(fsat::errno_io)
        }
        // Device nodes, fifos and sockets are not copied (a volume is a place for data).
        _ => Ok(()),
    }
}

fn copy_tree(procfds: &ProcFds, src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> io::Result<()> {
    for name in fsat::sorted_names(src)? {
        copy_entry(procfds, src, dst, &name)?;
    }
    Ok(())
}

/// Fill the volume folder `data` with the content of `target` in the container's root file
/// system `rootfs`, when `data` is empty and `target` is a folder there. Returns whether
/// anything was copied.
pub fn populate(rootfs: &Path, target: &str, data: &Path) -> Result<bool> {
    let dst = open_dir(data)?;
    let names = fsat::sorted_names(dst.as_fd()).map_err(|e| Error::io_path("reading", data, e))?;
    if !names.is_empty() {
        return Ok(false);
    }
    let root = open_dir(rootfs)?;
    let rel = target.trim_start_matches('/');
    let src = match fsat::open_dir_in_root(root.as_fd(), rel.as_bytes()) {
        Ok(fd) => fd,
        Err(e) if [Some(libc::ENOENT), Some(libc::ENOTDIR)].contains(&e.raw_os_error()) => {
            return Ok(false)
        }
        Err(e) => return Err(Error::io(format_args!("opening {target} in the image"), e)),
    };
    let st =
        stat::fstat(&src).map_err(|e| Error::errno(format_args!("{target} in the image"), e))?;
    let procfds = ProcFds::open().map_err(|e| Error::io("copying into a volume", e))?;
    let copied = copy_tree(&procfds, src.as_fd(), dst.as_fd()).and_then(|()| own(dst.as_fd(), &st));
    if let Err(e) = copied {
        // Leave the volume empty, as it was: the next start tries again.
        for name in fsat::sorted_names(dst.as_fd()).unwrap_or_default() {
            let _ = fsat::remove_all_at(dst.as_fd(), &name);
        }
        return Err(Error::io(
            format_args!(
                "copying {target} of the image into the volume {}",
                data.display()
            ),
            e,
        ));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn image_content_is_copied_without_following_links() {
        let t = std::env::temp_dir().join(format!("volcopy-{}", std::process::id()));
        let _ = fs::remove_dir_all(&t);
        let (root, data, outside) = (t.join("root"), t.join("data"), t.join("outside"));
        for d in [&root.join("srv/sub"), &data, &outside] {
            fs::create_dir_all(d).unwrap();
        }
        fs::write(outside.join("secret"), "host").unwrap();
        fs::write(root.join("srv/sub/f"), "hello").unwrap();
        fs::set_permissions(root.join("srv/sub/f"), fs::Permissions::from_mode(0o640)).unwrap();
        // A link out of the root: copied as a link, never followed.
        symlink(&outside, root.join("srv/out")).unwrap();
        // The mount path itself through an absolute link: resolved inside the root.
        symlink("/srv", root.join("link")).unwrap();
        assert!(populate(&root, "/link", &data).unwrap());
        assert_eq!(fs::read_to_string(data.join("sub/f")).unwrap(), "hello");
        let mode = fs::metadata(data.join("sub/f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(fs::read_link(data.join("out")).unwrap(), outside);
        // Not empty any more: nothing is copied again.
        assert!(!populate(&root, "/srv", &data).unwrap());
        // Nothing there in the image: nothing copied.
        let empty = t.join("empty");
        fs::create_dir(&empty).unwrap();
        assert!(!populate(&root, "/nothing", &empty).unwrap());
        fs::remove_dir_all(&t).unwrap();
    }
}
