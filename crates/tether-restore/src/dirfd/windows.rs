//! Windows: directory handles (see [`super`]). The same guarantees as the
//! Unix descriptors, with NT's calls:
//!
//! - every name is opened with `NtCreateFile` relative to its directory's
//!   handle (`OBJECT_ATTRIBUTES.RootDirectory`, one component, never `:`
//!   so never an alternate data stream) and `FILE_OPEN_REPARSE_POINT`, so
//!   a symlink, junction or volume mount point is opened itself, never
//!   followed; a directory open then refuses a reparse point (`ELOOP`)
//!   and, below a root, another volume (`EXDEV`: its serial number
//!   differs);
//! - removal, rename and hard links are set on a handle of the name itself
//!   (`FileDispositionInformation(Ex)`, `FileRenameInformation(Ex)` and
//!   `FileLinkInformation` with the target directory's handle as
//!   `RootDirectory`); metadata is set on the open handle
//!   (`FileBasicInformation`);
//! - new files are created `FILE_CREATE` (fails if anything is there);
//! - reparse points stat as [`Kind::Special`]: never recorded, read,
//!   written or replaced, like FIFOs on Unix.
//!
//! The metadata model here: `mode` holds the attributes in
//! [`RECORDED_ATTRIBUTES`] (read-only, hidden, system), `mtime` the last
//! write time; owners, ACLs, alternate data streams, extended attributes,
//! the archive bit and sparseness are neither recorded nor restored (files
//! come back dense, with the ACL their directory gives them).

use std::ffi::{OsStr, OsString, c_void};
use std::io;
use std::mem::{size_of, zeroed};
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};

use windows_sys::Wdk::Storage::FileSystem as nt;
use windows_sys::Win32::Foundation as w;
use windows_sys::Win32::Storage::FileSystem as fs;
use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;

use super::{Kind, Stat, time_of};
use crate::manifest::Time;

mod open;
#[cfg(test)]
mod tests;
pub(crate) mod xattr;

/// The errors the engine tells apart, as the Win32 codes this module
/// answers with (NT statuses are translated, then normalised so that
/// each condition has one code).
pub(crate) mod errno {
    use windows_sys::Win32::Foundation as w;

    pub(crate) const ENOENT: i32 = w::ERROR_FILE_NOT_FOUND as i32;
    pub(crate) const ENOTDIR: i32 = w::ERROR_DIRECTORY as i32;
    /// A reparse point (symlink, junction) where a directory was wanted.
    pub(crate) const ELOOP: i32 = w::ERROR_STOPPED_ON_SYMLINK as i32;
    /// Another volume where the same one was wanted.
    pub(crate) const EXDEV: i32 = w::ERROR_NOT_SAME_DEVICE as i32;
    pub(crate) const ENOTEMPTY: i32 = w::ERROR_DIR_NOT_EMPTY as i32;
    pub(crate) const EINVAL: i32 = w::ERROR_INVALID_PARAMETER as i32;
    pub(crate) const EACCES: i32 = w::ERROR_ACCESS_DENIED as i32;
    /// Never answered: Windows has no extended attributes here.
    pub(crate) const ENODATA: i32 = w::ERROR_NOT_FOUND as i32;
    /// A directory where a file was wanted.
    pub(crate) const EISDIR: i32 = w::ERROR_DIRECTORY_NOT_SUPPORTED as i32;
}

/// What metadata is read and set through: an open file or directory.
pub(crate) use std::os::windows::io::AsRawHandle as Descriptor;

/// What a [`Kind::Special`] is here, for messages: as a node, and as a
/// file in the way.
pub(crate) const SPECIAL_NODE: &str = "a symlink, junction or other reparse point";
pub(crate) const SPECIAL_FILE: &str = "a reparse point (symlink, junction or other)";

/// The attributes a point records (in `Entry::mode`) and a rollback
/// restores. Not the archive bit: every write sets it, so it would make
/// each restored file differ from its point.
pub(crate) const RECORDED_ATTRIBUTES: u32 =
    fs::FILE_ATTRIBUTE_READONLY | fs::FILE_ATTRIBUTE_HIDDEN | fs::FILE_ATTRIBUTE_SYSTEM;

const SHARE_ALL: u32 = fs::FILE_SHARE_READ | fs::FILE_SHARE_WRITE | fs::FILE_SHARE_DELETE;
const DIR_ACCESS: u32 =
    fs::FILE_LIST_DIRECTORY | fs::FILE_TRAVERSE | fs::FILE_READ_ATTRIBUTES | fs::SYNCHRONIZE;
const READ_ACCESS: u32 = fs::FILE_READ_DATA | fs::FILE_READ_ATTRIBUTES | fs::SYNCHRONIZE;
const STAT_ACCESS: u32 = fs::FILE_READ_ATTRIBUTES | fs::SYNCHRONIZE;

/// Seconds from 1601-01-01 (FILETIME's epoch) to 1970-01-01.
const EPOCH_DIFF: i64 = 11_644_473_600;
const TICKS: i64 = 10_000_000;

fn time_from(ticks: i64) -> Time {
    time_of(ticks.div_euclid(TICKS) - EPOCH_DIFF, ticks.rem_euclid(TICKS) * 100)
}

/// `t` as FILETIME ticks; never 0 or -1, which mean "leave as it is" and
/// "stop updating" to `FileBasicInformation`.
fn ticks_of(t: Time) -> i64 {
    (t.secs.saturating_add(EPOCH_DIFF))
        .saturating_mul(TICKS)
        .saturating_add(i64::from(t.nanos) / 100)
        .max(1)
}

/// The Win32 error for an NT status, one code per condition the engine
/// tells apart.
fn nt_error(status: w::NTSTATUS) -> io::Error {
    if status == w::STATUS_FILE_IS_A_DIRECTORY {
        return io::Error::from_raw_os_error(errno::EISDIR);
    }
    // SAFETY: a pure translation of its argument.
    let code = unsafe { w::RtlNtStatusToDosError(status) };
    let code = match code {
        w::ERROR_PATH_NOT_FOUND => w::ERROR_FILE_NOT_FOUND,
        // A reparse point the filesystem cannot follow (or will not).
        w::ERROR_CANT_ACCESS_FILE => w::ERROR_STOPPED_ON_SYMLINK,
        other => other,
    };
    io::Error::from_raw_os_error(code as i32)
}

/// True for the statuses an older Windows, another filesystem or Wine
/// answers to an information class it does not know.
fn not_known(status: w::NTSTATUS) -> bool {
    matches!(
        status,
        w::STATUS_INVALID_PARAMETER
            | w::STATUS_INVALID_INFO_CLASS
            | w::STATUS_NOT_IMPLEMENTED
            | w::STATUS_NOT_SUPPORTED
    )
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// A name valid inside one directory, as UTF-16: not empty, not `.` or
/// `..`, no separator, no `:` (a stream), no NUL.
fn single(name: &OsStr) -> io::Result<Vec<u16>> {
    let wide: Vec<u16> = name.encode_wide().collect();
    let bad = |c: &u16| matches!(*c, 0 | 0x2f | 0x5c | 0x3a);
    if wide.is_empty() || name == "." || name == ".." || wide.iter().any(bad) {
        return Err(invalid(format!("{name:?} is not a single path component")));
    }
    if wide.len() > 32_767 {
        return Err(io::Error::from_raw_os_error(w::ERROR_FILENAME_EXCED_RANGE as i32));
    }
    Ok(wide)
}

/// Sets information of class `class` on `handle` from `info`.
fn set_info<T>(handle: RawHandle, info: &T, len: usize, class: i32) -> w::NTSTATUS {
    let mut iosb: IO_STATUS_BLOCK = IO_STATUS_BLOCK::default();
    // SAFETY: `handle` is open; `info` is readable for `len` bytes (callers
    // pass the size of the buffer `info` starts).
    unsafe {
        nt::NtSetInformationFile(handle, &mut iosb, (info as *const T).cast(), len as u32, class)
    }
}

/// A `FILE_RENAME_INFORMATION` / `FILE_LINK_INFORMATION` (same layout on
/// x64): flags (or `ReplaceIfExists`) at 0, `RootDirectory` at 8,
/// `FileNameLength` at 16, the name from 20; 8-aligned.
fn name_info(flags: u32, root: RawHandle, name: &[u16]) -> (Vec<u64>, usize) {
    let mut bytes = Vec::with_capacity(24 + name.len() * 2);
    bytes.extend_from_slice(&flags.to_ne_bytes());
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&(root as usize as u64).to_ne_bytes());
    bytes.extend_from_slice(&((name.len() * 2) as u32).to_ne_bytes());
    for c in name {
        bytes.extend_from_slice(&c.to_ne_bytes());
    }
    while bytes.len() < 24 {
        bytes.push(0);
    }
    let words = bytes
        .chunks(8)
        .map(|c| {
            let mut word = [0u8; 8];
            word[..c.len()].copy_from_slice(c);
            u64::from_ne_bytes(word)
        })
        .collect();
    (words, bytes.len())
}

fn basic_info(handle: RawHandle) -> io::Result<fs::FILE_BASIC_INFO> {
    // SAFETY: plain data, all zeroes valid.
    let mut basic: fs::FILE_BASIC_INFO = unsafe { zeroed() };
    // SAFETY: `handle` is open and `basic` writable for the size passed.
    let ok = unsafe {
        fs::GetFileInformationByHandleEx(
            handle,
            fs::FileBasicInfo,
            (&mut basic as *mut fs::FILE_BASIC_INFO).cast(),
            size_of::<fs::FILE_BASIC_INFO>() as u32,
        )
    };
    if ok == 0 { Err(io::Error::last_os_error()) } else { Ok(basic) }
}

fn stat_handle(handle: RawHandle) -> io::Result<Stat> {
    // SAFETY: plain data, all zeroes valid.
    let mut info: fs::BY_HANDLE_FILE_INFORMATION = unsafe { zeroed() };
    // SAFETY: `handle` is open and `info` a valid out-pointer.
    if unsafe { fs::GetFileInformationByHandle(handle, &mut info) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let basic = basic_info(handle)?;
    let attrs = info.dwFileAttributes;
    let kind = if attrs & fs::FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        Kind::Special
    } else if attrs & fs::FILE_ATTRIBUTE_DIRECTORY != 0 {
        Kind::Dir
    } else {
        Kind::File
    };
    let size = (u64::from(info.nFileSizeHigh) << 32) | u64::from(info.nFileSizeLow);
    let size = if kind == Kind::File { size } else { 0 };
    Ok(Stat {
        kind,
        mode: attrs & RECORDED_ATTRIBUTES,
        uid: 0,
        gid: 0,
        size,
        mtime: time_from(basic.LastWriteTime),
        ctime: time_from(basic.ChangeTime),
        dev: u64::from(info.dwVolumeSerialNumber),
        ino: (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
        nlink: u64::from(info.nNumberOfLinks),
        blocks: size.div_ceil(512),
    })
}

/// Appends the names of the `FILE_DIRECTORY_INFORMATION` records in
/// `bytes` (as `NtQueryDirectoryFile` wrote them) but `.` and `..` to
/// `names`. A record that does not fit in `bytes` ends the list.
fn parse_directory_entries(bytes: &[u8], names: &mut Vec<OsString>) {
    const NEXT: usize = std::mem::offset_of!(nt::FILE_DIRECTORY_INFORMATION, NextEntryOffset);
    const NAME_LEN: usize = std::mem::offset_of!(nt::FILE_DIRECTORY_INFORMATION, FileNameLength);
    const NAME: usize = std::mem::offset_of!(nt::FILE_DIRECTORY_INFORMATION, FileName);
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let mut at = 0usize;
    while let (Some(next), Some(len)) = (u32_at(at + NEXT), u32_at(at + NAME_LEN)) {
        let Some(raw) = bytes.get(at + NAME..at + NAME + len as usize) else { break };
        let name: Vec<u16> =
            raw.chunks_exact(2).map(|c| u16::from_ne_bytes([c[0], c[1]])).collect();
        if name != [0x2e] && name != [0x2e, 0x2e] {
            names.push(OsString::from_wide(&name));
        }
        if next == 0 {
            break;
        }
        at += next as usize;
    }
}

/// An open directory.
#[derive(Debug)]
pub(crate) struct Dir {
    handle: OwnedHandle,
}

impl Dir {
    fn raw(&self) -> RawHandle {
        self.handle.as_raw_handle()
    }

    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir { handle: self.handle.try_clone()? })
    }

    pub fn stat(&self) -> io::Result<Stat> {
        stat_handle(self.raw())
    }

    /// What is at `name`, the name itself (a reparse point is not
    /// followed).
    pub fn stat_at(&self, name: &OsStr) -> io::Result<Stat> {
        let handle = self.create(name, STAT_ACCESS, nt::FILE_OPEN, 0)?;
        stat_handle(handle.as_raw_handle())
    }

    /// Every name in the directory but `.` and `..`, unsorted.
    pub fn list(&self) -> io::Result<Vec<OsString>> {
        let mut names = Vec::new();
        let mut buf = vec![0u64; 8192];
        let mut restart = true;
        loop {
            let mut iosb = IO_STATUS_BLOCK::default();
            // SAFETY: the handle is an open directory (synchronous I/O);
            // `buf` is writable for the length passed.
            let status = unsafe {
                nt::NtQueryDirectoryFile(
                    self.raw(),
                    std::ptr::null_mut(),
                    None,
                    std::ptr::null(),
                    &mut iosb,
                    buf.as_mut_ptr().cast(),
                    (buf.len() * 8) as u32,
                    nt::FileDirectoryInformation,
                    false,
                    std::ptr::null(),
                    restart,
                )
            };
            restart = false;
            if status == w::STATUS_NO_MORE_FILES {
                return Ok(names);
            }
            if status < 0 {
                return Err(nt_error(status));
            }
            let filled = (iosb.Information).min(buf.len() * 8);
            // SAFETY: `buf` is a live Vec of u64, so its memory is readable
            // as `buf.len() * 8` bytes (u8 has no alignment or validity
            // requirement), of which the call wrote the first `filled`.
            let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), filled) };
            parse_directory_entries(bytes, &mut names);
        }
    }

    /// Reparse points are never recorded on Windows, so never read.
    pub fn read_link(&self, _name: &OsStr) -> io::Result<OsString> {
        Err(io::Error::from_raw_os_error(errno::EINVAL))
    }

    /// Removes the file `name` (never a directory; a read-only one too).
    pub fn unlink(&self, name: &OsStr) -> io::Result<()> {
        let access = fs::DELETE | fs::FILE_READ_ATTRIBUTES | fs::SYNCHRONIZE;
        let handle = self.create_settable(name, access, nt::FILE_NON_DIRECTORY_FILE)?;
        dispose(handle.as_raw_handle())
    }

    /// Removes the empty directory `name`.
    pub fn rmdir(&self, name: &OsStr) -> io::Result<()> {
        let access = fs::DELETE | fs::FILE_READ_ATTRIBUTES | fs::SYNCHRONIZE;
        let handle = self.create_settable(name, access, nt::FILE_DIRECTORY_FILE)?;
        dispose(handle.as_raw_handle())
    }

    /// Creates the directory `name`; it gets the ACL its parent gives it
    /// (`mode` has no meaning here).
    pub fn mkdir(&self, name: &OsStr, _mode: u32) -> io::Result<()> {
        self.create(name, DIR_ACCESS, nt::FILE_CREATE, nt::FILE_DIRECTORY_FILE).map(drop)
    }

    /// Symlinks are never recorded on Windows, so never made.
    pub fn symlink(&self, _target: &OsStr, _name: &OsStr) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "symlinks are not recorded on Windows, so none is made",
        ))
    }

    /// Renames `from` to `to`, both in this directory; a file at `to` (a
    /// read-only one too) is replaced, a reparse point at `from` renamed
    /// itself.
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        let target = single(to)?;
        let access = fs::DELETE | fs::FILE_READ_ATTRIBUTES | fs::SYNCHRONIZE;
        let handle = self.create(from, access, nt::FILE_OPEN, 0)?;
        let flags = nt::FILE_RENAME_REPLACE_IF_EXISTS
            | nt::FILE_RENAME_POSIX_SEMANTICS
            | nt::FILE_RENAME_IGNORE_READONLY_ATTRIBUTE;
        let (info, len) = name_info(flags, self.raw(), &target);
        let status = set_info(handle.as_raw_handle(), &info[0], len, nt::FileRenameInformationEx);
        if status >= 0 {
            return Ok(());
        }
        if !not_known(status) {
            return Err(nt_error(status));
        }
        // The classic rename cannot replace a read-only file: clear the
        // attribute of what is at `to` first (the name itself, a file).
        if let Ok(old) = self.create(
            to,
            STAT_ACCESS | fs::FILE_WRITE_ATTRIBUTES,
            nt::FILE_OPEN,
            nt::FILE_NON_DIRECTORY_FILE,
        ) {
            let basic = basic_info(old.as_raw_handle())?;
            if basic.FileAttributes & fs::FILE_ATTRIBUTE_READONLY != 0 {
                clear_read_only(old.as_raw_handle(), basic.FileAttributes)?;
            }
        }
        let (info, len) = name_info(1, self.raw(), &target);
        let status = set_info(handle.as_raw_handle(), &info[0], len, nt::FileRenameInformation);
        if status < 0 { Err(nt_error(status)) } else { Ok(()) }
    }

    /// Makes `to` in `to_dir` a new hard link to the file `name` in this
    /// directory (a reparse point there is linked itself, not followed).
    pub fn hard_link(&self, name: &OsStr, to_dir: &Dir, to: &OsStr) -> io::Result<()> {
        let target = single(to)?;
        let handle = self.create(name, STAT_ACCESS, nt::FILE_OPEN, nt::FILE_NON_DIRECTORY_FILE)?;
        let (info, len) = name_info(0, to_dir.raw(), &target);
        let status = set_info(handle.as_raw_handle(), &info[0], len, nt::FileLinkInformation);
        if status < 0 { Err(nt_error(status)) } else { Ok(()) }
    }

    /// Owners are not recorded on Windows: nothing to change.
    pub fn lchown(&self, _name: &OsStr, _uid: u32, _gid: u32) -> io::Result<()> {
        Ok(())
    }

    /// Bytes this process could still write on the directory's volume
    /// (`FileFsFullSizeInformation`: the caller's available units).
    pub fn available_bytes(&self) -> io::Result<u64> {
        #[repr(C)]
        #[derive(Default)]
        struct FullSize {
            total_units: i64,
            caller_available_units: i64,
            actual_available_units: i64,
            sectors_per_unit: u32,
            bytes_per_sector: u32,
        }
        let mut info = FullSize::default();
        let mut iosb = IO_STATUS_BLOCK::default();
        // SAFETY: the handle is open and `info` is a repr(C)
        // FILE_FS_FULL_SIZE_INFORMATION, writable for the size passed.
        let status = unsafe {
            nt::NtQueryVolumeInformationFile(
                self.raw(),
                &mut iosb,
                (&mut info as *mut FullSize).cast(),
                size_of::<FullSize>() as u32,
                nt::FileFsFullSizeInformation,
            )
        };
        if status < 0 {
            return Err(nt_error(status));
        }
        let unit = u64::from(info.sectors_per_unit) * u64::from(info.bytes_per_sector);
        Ok((info.caller_available_units.max(0) as u64).saturating_mul(unit))
    }

    /// Flushes the whole volume the directory is on (`FlushFileBuffers` on
    /// the volume, which needs administrator rights, as the agent has). A
    /// volume that cannot be flushed at all (`ERROR_INVALID_FUNCTION`:
    /// Wine's drives, some network and FAT volumes) is logged once and
    /// passed: there is nothing else that flushes it.
    pub fn syncfs(&self) -> io::Result<()> {
        match self.flush_volume() {
            Err(e) if e.raw_os_error() == Some(w::ERROR_INVALID_FUNCTION as i32) => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    tracing::warn!(
                        "this volume cannot be flushed ({e}): restore points and rollbacks \
                         there are not guaranteed to survive a power loss"
                    )
                });
                Ok(())
            }
            other => other,
        }
    }

    fn flush_volume(&self) -> io::Result<()> {
        let mut buf = vec![0u16; 1024];
        // SAFETY: the handle is open and `buf` writable for its length.
        let n = unsafe {
            fs::GetFinalPathNameByHandleW(
                self.raw(),
                buf.as_mut_ptr(),
                buf.len() as u32,
                fs::VOLUME_NAME_DOS,
            )
        } as usize;
        if n == 0 || n >= buf.len() {
            return Err(io::Error::last_os_error());
        }
        let path = String::from_utf16_lossy(&buf[..n]);
        // `\\?\C:\…` names drive C:, opened as `\\.\C:`.
        let drive = path.strip_prefix(r"\\?\").unwrap_or(&path);
        let Some(letter) = drive.get(..2).filter(|d| d.ends_with(':')) else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{path} is not on a drive letter: its volume cannot be flushed"),
            ));
        };
        let volume: Vec<u16> =
            OsStr::new(&format!(r"\\.\{letter}")).encode_wide().chain([0]).collect();
        // SAFETY: `volume` is NUL-terminated; no security attributes, no
        // template.
        let handle = unsafe {
            fs::CreateFileW(
                volume.as_ptr(),
                w::GENERIC_READ | w::GENERIC_WRITE,
                fs::FILE_SHARE_READ | fs::FILE_SHARE_WRITE,
                std::ptr::null(),
                fs::OPEN_EXISTING,
                0,
                std::ptr::null_mut(),
            )
        };
        if handle == w::INVALID_HANDLE_VALUE {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(errno::EACCES) {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("flushing volume {letter} needs administrator rights: {e}"),
                ));
            }
            return Err(e);
        }
        // SAFETY: CreateFileW succeeded: a new handle owned by nobody else.
        let handle = unsafe { OwnedHandle::from_raw_handle(handle) };
        // SAFETY: `handle` is open.
        if unsafe { fs::FlushFileBuffers(handle.as_raw_handle()) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl AsRawHandle for Dir {
    fn as_raw_handle(&self) -> RawHandle {
        self.raw()
    }
}

/// Deletes what `handle` is open on (with `DELETE` access): at once where
/// the filesystem has POSIX semantics (NTFS on Windows 10 1709 and
/// later), else when the last handle closes. A read-only file is deleted
/// too, as `unlink` would.
fn dispose(handle: RawHandle) -> io::Result<()> {
    let flags = nt::FILE_DISPOSITION_DELETE
        | nt::FILE_DISPOSITION_POSIX_SEMANTICS
        | nt::FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE;
    let status = set_info(handle, &flags, size_of::<u32>(), nt::FileDispositionInformationEx);
    if status >= 0 {
        return Ok(());
    }
    if !not_known(status) {
        return Err(nt_error(status));
    }
    let basic = basic_info(handle)?;
    if basic.FileAttributes & fs::FILE_ATTRIBUTE_READONLY != 0 {
        clear_read_only(handle, basic.FileAttributes)?;
    }
    let delete: u8 = 1;
    let status = set_info(handle, &delete, 1, nt::FileDispositionInformation);
    if status < 0 { Err(nt_error(status)) } else { Ok(()) }
}

/// Sets the recorded attributes of `handle` to `mode`'s (the others as in
/// `current`) and its last write time to `ticks` (0: left as it is).
fn set_attributes(handle: RawHandle, current: u32, mode: u32, ticks: i64) -> io::Result<()> {
    let attrs = (current & !RECORDED_ATTRIBUTES) | (mode & RECORDED_ATTRIBUTES);
    let info = fs::FILE_BASIC_INFO {
        CreationTime: 0,
        LastAccessTime: 0,
        LastWriteTime: ticks,
        ChangeTime: 0,
        FileAttributes: if attrs == 0 { fs::FILE_ATTRIBUTE_NORMAL } else { attrs },
    };
    // SAFETY: `handle` is open and `info` readable for the size passed.
    let ok = unsafe {
        fs::SetFileInformationByHandle(
            handle,
            fs::FileBasicInfo,
            (&info as *const fs::FILE_BASIC_INFO).cast::<c_void>(),
            size_of::<fs::FILE_BASIC_INFO>() as u32,
        )
    };
    if ok == 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Clears the read-only attribute (before a removal or a replacement,
/// which it would refuse).
fn clear_read_only(handle: RawHandle, current: u32) -> io::Result<()> {
    set_attributes(handle, current, current & !fs::FILE_ATTRIBUTE_READONLY, 0)
}

/// Stat of an open file or directory.
pub(crate) fn fstat(fd: &impl AsRawHandle) -> io::Result<Stat> {
    stat_handle(fd.as_raw_handle())
}

/// The recorded attributes (`mode`), then the last write time, on the
/// open handle: nothing is looked up by name. Owners are not recorded on
/// Windows (`uid`, `gid` are ignored). Without `mtime`, the time is left.
pub(crate) fn set_metadata(
    fd: &impl AsRawHandle,
    _uid: u32,
    _gid: u32,
    mode: u32,
    mtime: Option<Time>,
) -> io::Result<()> {
    let handle = fd.as_raw_handle();
    let current = basic_info(handle)?.FileAttributes;
    set_attributes(handle, current, mode, mtime.map_or(0, ticks_of))
}
