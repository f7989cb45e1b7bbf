//! The Windows handles' answers, in the terms the engine tells apart.

use std::ffi::OsStr;
use std::io::Write;

use super::*;

fn n(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn code(e: io::Error) -> Option<i32> {
    e.raw_os_error()
}

#[test]
fn names_are_single_components_and_never_streams() {
    for bad in ["", ".", "..", "a/b", "a\\b", "file:stream", "file::$DATA", "nul\0x"] {
        assert!(single(n(bad)).is_err(), "{bad:?} accepted");
    }
    assert!(single(n("CON")).is_ok(), "device names are plain names to NtCreateFile");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), b"x").unwrap();
    let top = Dir::open_trusted(dir.path()).unwrap();
    assert!(top.create_new(n("f:evil"), 0).is_err(), "no alternate data stream is made");
    assert!(top.open_file(n("f:evil")).is_err());
}

#[test]
fn errors_are_the_ones_the_engine_tells_apart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("d/sub")).unwrap();
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let top = Dir::open_trusted(dir.path()).unwrap();
    assert_eq!(top.stat_at(n("gone")).map_err(code).unwrap_err(), Some(errno::ENOENT));
    assert_eq!(top.open_dir(n("file")).map_err(code).unwrap_err(), Some(errno::ENOTDIR));
    assert_eq!(top.open_beneath("file/x").map_err(code).unwrap_err(), Some(errno::ENOTDIR));
    assert_eq!(top.rmdir(n("d")).map_err(code).unwrap_err(), Some(errno::ENOTEMPTY));
    assert!(top.open_file(n("d")).unwrap().is_none(), "a directory is no file");
    assert!(top.create_new(n("file"), 0).is_err(), "create_new never opens what is there");
    assert_eq!(top.stat_at(n("d")).unwrap().kind, Kind::Dir);
    assert_eq!(top.stat_at(n("file")).unwrap().kind, Kind::File);
    let mut names = top.list().unwrap();
    names.sort();
    assert_eq!(names, ["d", "file"]);
    assert!(top.available_bytes().unwrap() > 0);
}

#[test]
fn removal_rename_links_and_metadata_work_on_handles() {
    let dir = tempfile::tempdir().unwrap();
    let top = Dir::open_trusted(dir.path()).unwrap();
    let mut file = top.create_new(n("new"), 0).unwrap();
    file.write_all(b"content").unwrap();
    let mtime = Time { secs: 1_000_000_000, nanos: 123_456_700 };
    set_metadata(&file, 0, 0, fs::FILE_ATTRIBUTE_READONLY, Some(mtime)).unwrap();
    drop(file);
    let st = top.stat_at(n("new")).unwrap();
    assert_eq!((st.size, st.mode, st.mtime), (7, fs::FILE_ATTRIBUTE_READONLY, mtime));
    // A read-only file is replaced by a rename and removed, as on Unix.
    std::fs::write(dir.path().join("other"), b"other").unwrap();
    top.rename(n("other"), n("new")).unwrap();
    assert_eq!(std::fs::read(dir.path().join("new")).unwrap(), b"other");
    let mut ro = top.create_new(n("ro"), 0).unwrap();
    ro.write_all(b"x").unwrap();
    set_metadata(&ro, 0, 0, fs::FILE_ATTRIBUTE_READONLY, None).unwrap();
    drop(ro);
    top.unlink(n("ro")).unwrap();
    assert_eq!(top.stat_at(n("ro")).map_err(code).unwrap_err(), Some(errno::ENOENT));
    // A hard link is the same file.
    top.mkdir(n("sub"), 0o700).unwrap();
    let sub = top.open_dir(n("sub")).unwrap();
    top.hard_link(n("new"), &sub, n("link")).unwrap();
    let (a, b) = (top.stat_at(n("new")).unwrap(), sub.stat_at(n("link")).unwrap());
    assert_eq!((a.dev, a.ino, a.nlink), (b.dev, b.ino, 2));
    sub.unlink(n("link")).unwrap();
    drop(sub);
    top.rmdir(n("sub")).unwrap();
    assert_eq!(top.list().unwrap(), ["new"]);
}

#[test]
fn a_file_another_process_locked_is_refused_as_unreadable() {
    use std::os::windows::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db"), b"x").unwrap();
    let top = Dir::open_trusted(dir.path()).unwrap();
    let lock = std::fs::File::options().read(true).share_mode(0).open(dir.path().join("db"));
    let lock = lock.unwrap();
    let e = top.open_file(n("db")).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    drop(lock);
    assert!(top.open_file(n("db")).unwrap().is_some());
}

#[test]
fn directory_records_are_parsed_within_what_was_written() {
    let record = |next: u32, name: &str| {
        let mut r = vec![0u8; 64];
        r[..4].copy_from_slice(&next.to_ne_bytes());
        let wide: Vec<u16> = name.encode_utf16().collect();
        r[60..64].copy_from_slice(&((wide.len() * 2) as u32).to_ne_bytes());
        r.extend(wide.iter().flat_map(|c| c.to_ne_bytes()));
        r.resize(r.len().next_multiple_of(8), 0);
        r
    };
    let mut bytes = record(72, ".");
    bytes.extend(record(72, ".."));
    bytes.extend(record(72, "abc"));
    bytes.extend(record(0, "last"));
    let mut names = Vec::new();
    parse_directory_entries(&bytes, &mut names);
    assert_eq!(names, ["abc", "last"]);
    // A name running past what the call wrote ends the list there.
    let mut names = Vec::new();
    parse_directory_entries(&bytes[..bytes.len() - 10], &mut names);
    assert_eq!(names, ["abc"]);
}
