//! Windows: symlinks (and every other reparse point: junctions, mount
//! points) planted in a restored tree are never followed. A point lists
//! them as left out and records nothing through them; a rollback neither
//! replaces one nor writes anything through it.
//!
//! Not run under Wine 8, which makes neither (`CreateSymbolicLinkW`
//! succeeds and creates nothing; `FSCTL_SET_REPARSE_POINT` is "not
//! supported"): these run on Windows only.

// Windows only: Unix symlinks are recorded and restored (see `hostile.rs`).
#![cfg(windows)]

mod common;

use std::fs;
use std::os::windows::fs::{symlink_dir, symlink_file};
use std::path::Path;

use common::Fixture;
use tether_restore::{Backend, PointKind};

/// Root's files outside the restore paths, named like those inside so a
/// followed link would land on them.
fn outside(f: &Fixture) -> std::path::PathBuf {
    let o = f.dir.path().join("outside");
    fs::create_dir_all(o.join("conf")).unwrap();
    fs::write(o.join("a"), b"outside a").unwrap();
    fs::write(o.join("conf/a"), b"outside conf/a").unwrap();
    o
}

fn outside_is_untouched(o: &Path) {
    assert_eq!(fs::read(o.join("a")).unwrap(), b"outside a");
    assert_eq!(fs::read(o.join("conf/a")).unwrap(), b"outside conf/a");
    let mut names: Vec<_> = fs::read_dir(o).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["a", "conf"], "nothing was written outside");
}

#[test]
fn symlinks_in_the_tree_are_listed_and_never_followed_by_a_point() {
    let f = Fixture::new();
    let o = outside(&f);
    f.write("keep", b"k");
    symlink_dir(&o, f.path("dir-link")).expect("make a directory symlink");
    symlink_file(o.join("a"), f.path("file-link")).expect("make a file symlink");
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap();
    assert_eq!(point.files, 1, "only `keep`: nothing read through a link");
    let detail = engine.show(&point.id).unwrap();
    assert!(detail.entries.iter().all(|e| !e.path.contains("link")), "{:?}", detail.entries);
    for name in ["dir-link", "file-link"] {
        assert!(
            detail.summary.skipped.iter().any(|s| s.contains(name) && s.contains("reparse point")),
            "{name} not listed: {:?}",
            detail.summary.skipped
        );
    }
    outside_is_untouched(&o);
}

#[test]
fn a_rollback_never_writes_through_a_symlink_planted_in_place_of_a_directory() {
    let f = Fixture::new();
    let o = outside(&f);
    f.write("conf/a", b"inside conf/a");
    f.write("a", b"inside a");
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap();
    // A user swaps the recorded directory for a link to root's files, and
    // the recorded file for a link to another of them.
    fs::remove_dir_all(f.path("conf")).unwrap();
    symlink_dir(o.join("conf"), f.path("conf")).unwrap();
    fs::remove_file(f.path("a")).unwrap();
    symlink_file(o.join("a"), f.path("a")).unwrap();
    let result = engine.rollback(&point.id);
    outside_is_untouched(&o);
    for name in ["conf", "a"] {
        let meta = fs::symlink_metadata(f.path(name)).unwrap();
        assert!(meta.is_symlink(), "{name}: the planted link is left in place");
    }
    match result {
        Ok(report) => assert!(
            report.skipped.iter().any(|s| s.contains("conf")),
            "what was left is reported: {:?}",
            report.skipped
        ),
        Err(e) => assert!(e.to_string().contains("reparse point"), "{e}"),
    }
}

/// A junction (mount-point reparse point) at `at` to the directory
/// `target`: what any user can make, no privilege needed (`mklink /J`).
fn junction(target: &Path, at: &Path) -> std::io::Result<()> {
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::fs::OpenOptionsExt;
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT,
    };
    fs::create_dir(at)?;
    let dir = fs::OpenOptions::new()
        .write(true)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(at)?;
    let substitute: Vec<u16> =
        std::ffi::OsString::from(format!(r"\??\{}", target.display())).encode_wide().collect();
    let print: Vec<u16> = target.as_os_str().encode_wide().collect();
    let names: Vec<u16> =
        substitute.iter().chain(&[0]).chain(&print).chain(&[0]).copied().collect();
    // REPARSE_DATA_BUFFER for IO_REPARSE_TAG_MOUNT_POINT.
    let mut buf: Vec<u8> = Vec::new();
    buf.extend(0xA000_0003u32.to_le_bytes());
    buf.extend(((8 + names.len() * 2) as u16).to_le_bytes());
    buf.extend(0u16.to_le_bytes());
    buf.extend(0u16.to_le_bytes());
    buf.extend(((substitute.len() * 2) as u16).to_le_bytes());
    buf.extend((((substitute.len() + 1) * 2) as u16).to_le_bytes());
    buf.extend(((print.len() * 2) as u16).to_le_bytes());
    buf.extend(names.iter().flat_map(|c| c.to_le_bytes()));
    let mut returned = 0u32;
    // SAFETY: `dir` is an open handle; `buf` is readable for its length;
    // no output buffer, no overlapped I/O.
    let ok = unsafe {
        windows_sys::Win32::System::IO::DeviceIoControl(
            dir.as_raw_handle(),
            0x0009_00A4, // FSCTL_SET_REPARSE_POINT
            buf.as_ptr().cast(),
            buf.len() as u32,
            std::ptr::null_mut(),
            0,
            &mut returned,
            std::ptr::null_mut(),
        )
    };
    if ok == 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
}

#[test]
fn a_junction_a_user_planted_is_never_followed_by_a_point_or_a_rollback() {
    let f = Fixture::new();
    let o = outside(&f);
    f.write("conf/a", b"inside conf/a");
    junction(&o, &f.path("j")).expect("make a junction");
    assert_eq!(fs::read(f.path("j/a")).unwrap(), b"outside a", "the junction works");
    let engine = f.open();
    let point = engine.create(None, false, PointKind::Manual).unwrap();
    assert_eq!(point.files, 1, "only conf/a: nothing read through the junction");
    assert!(point.skipped.iter().any(|s| s.contains("reparse point")), "{:?}", point.skipped);
    // The recorded directory swapped for a junction to root's files.
    fs::remove_dir_all(f.path("conf")).unwrap();
    junction(&o.join("conf"), &f.path("conf")).unwrap();
    let _ = engine.rollback(&point.id);
    outside_is_untouched(&o);
    assert!(fs::symlink_metadata(f.path("conf")).unwrap().is_symlink(), "left in place");
}
