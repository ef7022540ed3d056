//! Helpers of the image tests: running the `docker` binary on a temporary root, crafting tar
//! archives byte by byte (hostile names included), and snapshots of directory trees that
//! record everything a layer must preserve.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// `docker -g ROOT` that runs in-process on ROOT (`DOCKER_HOST=none`), so a daemon running
/// on this machine is never asked.
pub fn docker_cmd(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_docker"));
    c.env("DOCKER_HOST", "none").arg("-g").arg(root);
    c
}

/// Run `docker -g ROOT ARGS...` (in-process) with `stdin` fed to it.
pub fn docker(root: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = docker_cmd(root)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the docker binary");
    if let Some(data) = stdin {
        let mut w = child.stdin.take().unwrap();
        let data = data.to_vec();
        // The command may stop reading early (a failed import): ignore EPIPE.
        std::thread::spawn(move || {
            let _ = w.write_all(&data);
        });
    }
    child.wait_with_output().unwrap()
}

/// stdout of a command that must succeed.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\nstdout: {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// stderr of a command that must fail.
pub fn fails(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "command succeeded unexpectedly: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Import `tar` (any compression) as `name` and return the new id.
pub fn import(root: &Path, tar: &[u8], name: Option<&str>) -> String {
    let mut args = vec!["import", "-"];
    if let Some(n) = name {
        args.push(n);
    }
    let id = ok(&docker(root, &args, Some(tar))).trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    id
}

/// Names in `ROOT/graph/:tmp:` (must be empty once no registration runs).
pub fn tmp_leftovers(root: &Path) -> Vec<String> {
    let dir = root.join("graph/:tmp:");
    match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Image folders in `ROOT/graph`.
pub fn image_dirs(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root.join("graph"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(':') && !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

/// A tar archive built entry by entry with full control of every header field.
pub struct Tar {
    out: Vec<u8>,
}

pub struct Entry<'a> {
    pub name: &'a [u8],
    pub kind: tar::EntryType,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub link: &'a [u8],
    pub data: &'a [u8],
    pub dev: (u32, u32),
}

impl<'a> Entry<'a> {
    pub fn new(name: &'a [u8], kind: tar::EntryType) -> Entry<'a> {
        Entry {
            name,
            kind,
            mode: if kind == tar::EntryType::Directory {
                0o755
            } else {
                0o644
            },
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
            link: b"",
            data: b"",
            dev: (0, 0),
        }
    }
}

impl Default for Tar {
    fn default() -> Self {
        Self::new()
    }
}

impl Tar {
    pub fn new() -> Tar {
        Tar { out: Vec::new() }
    }

    /// Append one entry. Names and link targets are written verbatim (a GNU long-name record
    /// first when longer than the header field), so `../x` and `/etc` go in as they are.
    pub fn entry(&mut self, e: Entry<'_>) -> &mut Tar {
        if e.name.len() > 99 {
            self.long(b'L', e.name);
        }
        if e.link.len() > 99 {
            self.long(b'K', e.link);
        }
        let mut h = tar::Header::new_gnu();
        {
            let old = h.as_old_mut();
            let n = e.name.len().min(99);
            old.name[..n].copy_from_slice(&e.name[..n]);
            let l = e.link.len().min(99);
            old.linkname[..l].copy_from_slice(&e.link[..l]);
        }
        h.set_entry_type(e.kind);
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.gid);
        h.set_mtime(e.mtime);
        h.set_size(e.data.len() as u64);
        if matches!(e.kind, tar::EntryType::Char | tar::EntryType::Block) {
            h.set_device_major(e.dev.0).unwrap();
            h.set_device_minor(e.dev.1).unwrap();
        }
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(e.data);
        self.pad();
        self
    }

    fn long(&mut self, kind: u8, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(tar::EntryType::new(kind));
        h.set_size(data.len() as u64 + 1);
        h.set_mode(0o644);
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(data);
        self.out.push(0);
        self.pad();
    }

    /// A pax header (for the next entry) with these records.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Tar {
        let mut data = Vec::new();
        for (k, v) in records {
            let rest = 3 + k.len() + v.len();
            let mut len = rest + 1;
            while len.to_string().len() + rest != len {
                len = rest + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {k}=").as_bytes());
            data.extend_from_slice(v);
            data.push(b'\n');
        }
        let mut h = tar::Header::new_ustar();
        h.set_path("PaxHeader").unwrap();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(&data);
        self.pad();
        self
    }

    pub fn dir(&mut self, name: &str) -> &mut Tar {
        self.entry(Entry::new(name.as_bytes(), tar::EntryType::Directory))
    }

    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut Tar {
        let mut e = Entry::new(name.as_bytes(), tar::EntryType::Regular);
        e.data = data;
        self.entry(e)
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Tar {
        let mut e = Entry::new(name.as_bytes(), tar::EntryType::Symlink);
        e.link = target.as_bytes();
        e.mode = 0o777;
        self.entry(e)
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Tar {
        let mut e = Entry::new(name.as_bytes(), tar::EntryType::Link);
        e.link = target.as_bytes();
        self.entry(e)
    }

    pub fn device(&mut self, name: &str, kind: tar::EntryType, major: u32, minor: u32) -> &mut Tar {
        let mut e = Entry::new(name.as_bytes(), kind);
        e.dev = (major, minor);
        e.mode = 0o600;
        self.entry(e)
    }

    /// A GNU sparse file (type `S`) `real_size` bytes long whose data are `segments`
    /// (offset, bytes), the rest holes: the map as GNU tar writes it (4 segments in the header,
    /// 21 in each extension block after it), then the segments' data. Every segment's data but
    /// the last is a multiple of 512 bytes long.
    pub fn sparse(&mut self, name: &str, real_size: u64, segments: &[(u64, &[u8])]) -> &mut Tar {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_entry_type(tar::EntryType::GNUSparse);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_600_000_000);
        h.set_size(segments.iter().map(|(_, d)| d.len() as u64).sum());
        let (head, rest) = segments.split_at(segments.len().min(4));
        let gnu = h.as_gnu_mut().unwrap();
        gnu.set_real_size(real_size);
        for (slot, (off, data)) in gnu.sparse.iter_mut().zip(head) {
            slot.set_offset(*off);
            slot.set_length(data.len() as u64);
        }
        gnu.set_is_extended(!rest.is_empty());
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        let blocks: Vec<_> = rest.chunks(21).collect();
        for (i, chunk) in blocks.iter().enumerate() {
            let mut ext = tar::GnuExtSparseHeader::new();
            for (slot, (off, data)) in ext.sparse_mut().iter_mut().zip(chunk.iter()) {
                slot.set_offset(*off);
                slot.set_length(data.len() as u64);
            }
            ext.set_is_extended(i + 1 < blocks.len());
            self.out.extend_from_slice(ext.as_bytes());
        }
        for (_, data) in segments {
            self.out.extend_from_slice(data);
        }
        self.pad();
        self
    }

    fn pad(&mut self) {
        let rem = self.out.len() % 512;
        if rem != 0 {
            self.out.resize(self.out.len() + 512 - rem, 0);
        }
    }

    /// The archive with its end-of-archive marker.
    pub fn finish(&self) -> Vec<u8> {
        let mut v = self.out.clone();
        v.resize(v.len() + 1024, 0);
        v
    }

    /// The bytes so far, without an end marker.
    pub fn raw(&self) -> Vec<u8> {
        self.out.clone()
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

/// Every extended attribute of `p` (not following a symlink), sorted.
pub fn xattrs(p: &Path) -> Vec<(String, Vec<u8>)> {
    let c = cpath(p);
    let mut buf = vec![0u8; 65536];
    // SAFETY: c is NUL-terminated, buf is writable for its length.
    let n = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for name in buf[..n as usize]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
    {
        let cn = CString::new(name).unwrap();
        let mut v = vec![0u8; 65536];
        // SAFETY: as above; cn is NUL-terminated.
        let m = unsafe { libc::lgetxattr(c.as_ptr(), cn.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        assert!(m >= 0, "reading xattr {cn:?} of {}", p.display());
        v.truncate(m as usize);
        out.push((String::from_utf8_lossy(name).into_owned(), v));
    }
    out.sort();
    out
}

/// Set an extended attribute (not following a symlink).
pub fn set_xattr(p: &Path, name: &str, value: &[u8]) {
    let c = cpath(p);
    let n = CString::new(name).unwrap();
    // SAFETY: both strings are NUL-terminated; value is valid for its length.
    let rc = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        rc,
        0,
        "setting {name} on {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

/// Set the times of `p` without following a symlink.
pub fn set_mtime(p: &Path, secs: i64) {
    let c = cpath(p);
    let t = libc::timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let times = [t, t];
    // SAFETY: c is NUL-terminated; times holds two timespecs.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
}

/// Change the owner of `p` without following a symlink.
pub fn lchown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

/// Make a device node or fifo.
pub fn mknod(p: &Path, kind: libc::mode_t, perm: libc::mode_t, major: u32, minor: u32) {
    let c = cpath(p);
    // SAFETY: c is NUL-terminated.
    let rc = unsafe { libc::mknod(c.as_ptr(), kind | perm, libc::makedev(major, minor)) };
    assert_eq!(
        rc,
        0,
        "mknod {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

/// A description of every entry below `dir` (not `dir` itself): type, mode, owner, mtime,
/// size, content digest, link target, device numbers, xattrs, and which entries share an
/// inode. Two trees with equal snapshots are equal for everything a layer preserves.
/// `skip_xattr` filters attribute names out (e.g. `security.selinux` a host adds).
pub fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<(u64, u64), String> = BTreeMap::new();
    walk(dir, dir, &mut out, &mut inodes, true);
    out
}

/// As [`snapshot`], without directory mtimes (for trees a test changed afterwards).
pub fn snapshot_no_dir_times(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inodes = BTreeMap::new();
    walk(dir, dir, &mut out, &mut inodes, false);
    out
}

fn digest(data: &[u8]) -> u64 {
    // FNV-1a: enough to tell contents apart in a test.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn walk(
    base: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, String>,
    inodes: &mut BTreeMap<(u64, u64), String>,
    dir_times: bool,
) {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for p in names {
        let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
        let m = std::fs::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            "dir".to_string()
        } else if ft.is_symlink() {
            format!("link->{}", std::fs::read_link(&p).unwrap().display())
        } else if ft.is_file() {
            format!(
                "file size={} data={:x}",
                m.len(),
                digest(&std::fs::read(&p).unwrap())
            )
        } else if ft.is_char_device() || ft.is_block_device() {
            let c = if ft.is_char_device() { "char" } else { "block" };
            format!("{c} {}:{}", libc::major(m.rdev()), libc::minor(m.rdev()))
        } else if ft.is_fifo() {
            "fifo".to_string()
        } else {
            "other".to_string()
        };
        let mode = if ft.is_symlink() {
            0
        } else {
            m.mode() & 0o7777
        };
        let mtime = if ft.is_dir() && !dir_times {
            0
        } else {
            m.mtime()
        };
        let mut line = format!(
            "{kind} mode={mode:o} owner={}:{} mtime={mtime} xattrs={:?}",
            m.uid(),
            m.gid(),
            xattrs(&p)
        );
        if ft.is_file() && m.nlink() > 1 {
            let first = inodes
                .entry((m.dev(), m.ino()))
                .or_insert_with(|| rel.clone());
            line.push_str(&format!(" inode-of={first}"));
        }
        out.insert(rel, line);
        if ft.is_dir() {
            walk(base, &p, out, inodes, dir_times);
        }
    }
}
