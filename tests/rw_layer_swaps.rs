//! A running container swaps names in its read-write layer while commit, export and diff read
//! it. The layer lives on the host's file system (not `nodev`), so a device node the container
//! makes there is a host device to whoever opens it: a packer that stats a regular file and
//! then opens the name may open the device instead, and put the device's contents (here
//! `/dev/zero`'s zeros) into the image. The packer now holds each entry (`O_PATH`) before it
//! stats it and reads only what it holds, so that can no longer happen.
//!
//! The container's swapper is a static program that exchanges two names with
//! `renameat2(RENAME_EXCHANGE)` in a tight loop (hundreds of thousands of swaps a second: a
//! busybox `mv`/`mknod` loop manages about a thousand, too few to hit a window of a few
//! microseconds reliably). It is built with `cc -static` into the busybox image.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::Duration;

use common::cli::ok;
use common::{eventually, Fixture};

const SWAPPER: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
/* Exchange the names argv[1] and argv[2] forever; fail at once if the kernel cannot. */
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    if (syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], 2 /* RENAME_EXCHANGE */)) {
        perror("renameat2");
        return 1;
    }
    for (;;) syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], 2);
}
"#;

/// Content of the regular file: never zero, so a file of the device's zeros stands out.
const CONTENT: &[u8] = b"regular\n";
const REPEAT: usize = 512;

fn install_swapper(f: &Fixture) {
    f.install_static_c(SWAPPER, "bin/swap");
}

/// Start a container that makes `/f` (a regular file) and `/g` (`mknod /g c 1 5`, the host's
/// `/dev/zero`) and exchanges them forever; returns its id once both are in its layer.
fn start_swapping(f: &Fixture) -> String {
    let script = format!(
        "for i in $(seq {REPEAT}); do printf '{}'; done > /f && mknod /g c 1 5 && exec /bin/swap /f /g",
        String::from_utf8_lossy(CONTENT).replace('\n', "\\n")
    );
    let id = ok(&f.rt, &["run", "-d", "busybox", "sh", "-c", &script])
        .trim()
        .to_string();
    let rw = f.rt.container(&id).unwrap().rw_dir();
    assert!(
        eventually(Duration::from_secs(20), || {
            rw.join("f").symlink_metadata().is_ok() && rw.join("g").symlink_metadata().is_ok()
        }),
        "the container did not make /f and /g"
    );
    id
}

/// What a packed `/f` or `/g` was: `true` for the device node, `false` for the regular file
/// with its own contents. A regular file with anything else (the device's zeros) fails.
fn examine(p: &Path) -> bool {
    let m = p.symlink_metadata().unwrap();
    if m.file_type().is_char_device() {
        assert_eq!(m.rdev(), nix::sys::stat::makedev(1, 5));
        return true;
    }
    assert!(m.is_file(), "{}: {:?}", p.display(), m.file_type());
    let data = std::fs::read(p).unwrap();
    assert_eq!(
        data,
        CONTENT.repeat(REPEAT),
        "{} holds another file's contents ({} bytes, zeros: {})",
        p.display(),
        data.len(),
        data.iter().all(|&b| b == 0)
    );
    false
}

/// The attack on commit: 50 commits while the names swap. On main c49bff3, the packer stat'ed
/// `/f` as a regular file, then opened the name, by then often the device (the read-write
/// layer is on the host's file system, not `nodev`): a committed layer held a regular `/f` of
/// 4096 zeros ("holds another file's contents (4096 bytes, zeros: true)"). The commits here
/// do not freeze the container (`--pause=false`): the freeze, commit's default, would keep the
/// names still while the packer reads, and this is the packer's own defence.
#[test]
fn commit_never_reads_a_device_swapped_in() {
    let f = Fixture::new("swapc");
    install_swapper(&f);
    let id = start_swapping(&f);
    let (mut devices, mut files) = (0, 0);
    for _ in 0..50 {
        let image = ok(&f.rt, &["commit", "--pause=false", &id])
            .trim()
            .to_string();
        let layer = f.root().join("graph").join(&image).join("layer");
        for name in ["f", "g"] {
            if examine(&layer.join(name)) {
                devices += 1;
            } else {
                files += 1;
            }
        }
        ok(&f.rt, &["rmi", &image]);
    }
    // The swap was really running under the commits.
    assert!(devices > 0 && files > 0, "{devices} devices, {files} files");
    ok(&f.rt, &["rm", "-f", &id]);
}

/// The same attack on export, which packs the container's whole (mounted) file system. On main
/// c49bff3 the packer opened the swapped-in device too, but through the container's root
/// mount, which is `nodev`: the export failed (`opening "g": Permission denied`) instead of
/// reading zeros. Now the device is never opened and every export succeeds.
#[test]
fn export_never_reads_a_device_swapped_in() {
    let f = Fixture::new("swape");
    install_swapper(&f);
    let id = start_swapping(&f);
    let mut kinds = std::collections::BTreeSet::new();
    for _ in 0..50 {
        let mut out = Vec::new();
        let c = f.rt.container(&id).unwrap();
        f.rt.with_rootfs(&c, |root| docker_runtime::image::pack_dir(root, &mut out))
            .unwrap();
        let mut archive = tar::Archive::new(out.as_slice());
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            if path != "f" && path != "g" {
                continue;
            }
            let kind = e.header().entry_type();
            kinds.insert(format!("{kind:?}"));
            if kind == tar::EntryType::Regular {
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut data).unwrap();
                assert_eq!(
                    data,
                    CONTENT.repeat(REPEAT),
                    "{path}: another file's contents"
                );
            } else {
                assert_eq!(kind, tar::EntryType::Char, "{path}");
            }
        }
    }
    assert_eq!(kinds.len(), 2, "the swap was not seen: {kinds:?}");
    ok(&f.rt, &["rm", "-f", &id]);
}

/// The attack on diff: a directory swapped for a symlink to `/`. On main c49bff3, diff stat'ed
/// `/d` as a directory, then listed it by path, which by then could follow the symlink into the
/// host's root: in 200 diffs it reported host files as the container's (`A /s/etc/adduser.conf`,
/// `A /s/dev/vda`, ...) and failed on others (`reading .../rw/d/dev: No such file or
/// directory`).
#[test]
fn diff_never_follows_a_symlink_swapped_in() {
    let f = Fixture::new("swapd");
    install_swapper(&f);
    let id = ok(
        &f.rt,
        &[
            "run",
            "-d",
            "busybox",
            "sh",
            "-c",
            "mkdir /d && touch /d/inside && ln -s / /s && exec /bin/swap /d /s",
        ],
    )
    .trim()
    .to_string();
    let rw = f.rt.container(&id).unwrap().rw_dir();
    assert!(eventually(Duration::from_secs(20), || rw
        .join("s")
        .symlink_metadata()
        .is_ok()));
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let diff = ok(&f.rt, &["diff", &id]);
        for line in diff.lines() {
            seen.insert(line.to_string());
            let path = &line[2..];
            let inside = ["/d", "/s", "/d/inside", "/s/inside"].contains(&path)
                || !(path.starts_with("/d/") || path.starts_with("/s/"));
            assert!(inside, "diff followed the symlink: {line}");
        }
    }
    // The swap was really running under the diffs: the directory was seen under both names.
    assert!(
        seen.contains("A /d/inside") && seen.contains("A /s/inside"),
        "{seen:?}"
    );
    ok(&f.rt, &["rm", "-f", &id]);
}
