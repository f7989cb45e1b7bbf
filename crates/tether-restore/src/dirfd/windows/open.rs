//! Opening what is inside a restored tree on Windows: every name with
//! `NtCreateFile` relative to its directory's handle and
//! `FILE_OPEN_REPARSE_POINT`; directories through no reparse point and,
//! below a root, onto no other volume; regular files only; new files that
//! cannot exist already.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::Path;

use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;
use windows_sys::Wdk::Storage::FileSystem as nt;
use windows_sys::Win32::Foundation as w;
use windows_sys::Win32::Storage::FileSystem as fs;
use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;

use super::{
    DIR_ACCESS, Dir, Kind, READ_ACCESS, SHARE_ALL, Stat, errno, nt_error, single, stat_handle,
};

impl Dir {
    /// `NtCreateFile` of the single component `name` in this directory,
    /// never following a reparse point there.
    pub(super) fn create(
        &self,
        name: &OsStr,
        access: u32,
        disposition: u32,
        options: u32,
    ) -> io::Result<OwnedHandle> {
        let wide = single(name)?;
        let bytes = (wide.len() * 2) as u16;
        let object = w::UNICODE_STRING {
            Length: bytes,
            MaximumLength: bytes,
            Buffer: wide.as_ptr() as *mut u16,
        };
        // SAFETY: plain data, all zeroes valid (null pointers).
        let mut attributes: OBJECT_ATTRIBUTES = unsafe { zeroed() };
        attributes.Length = size_of::<OBJECT_ATTRIBUTES>() as u32;
        attributes.RootDirectory = self.raw();
        attributes.ObjectName = &object;
        attributes.Attributes = w::OBJ_CASE_INSENSITIVE;
        let mut handle: w::HANDLE = std::ptr::null_mut();
        let mut iosb = IO_STATUS_BLOCK::default();
        // SAFETY: every pointer is valid for the call: `attributes` names
        // `object`, whose buffer `wide` outlives the call; `handle` and
        // `iosb` are out-pointers; no extended-attribute buffer.
        let status = unsafe {
            nt::NtCreateFile(
                &mut handle,
                access,
                &attributes,
                &mut iosb,
                std::ptr::null(),
                fs::FILE_ATTRIBUTE_NORMAL,
                SHARE_ALL,
                disposition,
                options
                    | nt::FILE_OPEN_REPARSE_POINT
                    | nt::FILE_SYNCHRONOUS_IO_NONALERT
                    | nt::FILE_OPEN_FOR_BACKUP_INTENT,
                std::ptr::null(),
                0,
            )
        };
        if status < 0 {
            return Err(nt_error(status));
        }
        // SAFETY: NtCreateFile succeeded, so `handle` is a new handle owned
        // by nobody else.
        Ok(unsafe { OwnedHandle::from_raw_handle(handle) })
    }

    /// Opens `name` asking for `access` and, if that is allowed, for
    /// writing attributes too (to set metadata on it later).
    pub(super) fn create_settable(
        &self,
        name: &OsStr,
        access: u32,
        options: u32,
    ) -> io::Result<OwnedHandle> {
        let with = access | fs::FILE_WRITE_ATTRIBUTES;
        match self.create(name, with, nt::FILE_OPEN, options) {
            Err(e) if e.raw_os_error() == Some(errno::EACCES) => {
                self.create(name, access, nt::FILE_OPEN, options)
            }
            other => other,
        }
    }

    /// Opens a directory by path, following links: only for a volume's
    /// root, the state directory, and in tests.
    pub fn open_trusted(path: &Path) -> io::Result<Dir> {
        let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
        // SAFETY: `wide` is NUL-terminated; no security attributes, no
        // template.
        let handle = unsafe {
            fs::CreateFileW(
                wide.as_ptr(),
                DIR_ACCESS,
                SHARE_ALL,
                std::ptr::null(),
                fs::OPEN_EXISTING,
                fs::FILE_FLAG_BACKUP_SEMANTICS,
                std::ptr::null_mut(),
            )
        };
        if handle == w::INVALID_HANDLE_VALUE {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: CreateFileW succeeded: a new handle owned by nobody else.
        let dir = Dir { handle: unsafe { OwnedHandle::from_raw_handle(handle) } };
        if dir.stat()?.kind != Kind::Dir {
            return Err(io::Error::from_raw_os_error(errno::ENOTDIR));
        }
        Ok(dir)
    }

    /// Opens the directory at `rel` (names separated by `/`) beneath this
    /// one, one component at a time through no reparse point (ELOOP) and
    /// onto no other volume (EXDEV); `rel` empty is this one.
    pub fn open_beneath(&self, rel: &str) -> io::Result<Dir> {
        if rel.is_empty() {
            return self.try_clone();
        }
        for part in rel.split('/') {
            single(OsStr::new(part))?;
        }
        let mut dir = self.try_clone()?;
        for part in rel.split('/') {
            dir = dir.open_dir(OsStr::new(part))?;
        }
        Ok(dir)
    }

    /// Opens the directory `name` itself; a reparse point there (a
    /// directory symlink, junction or mount point) is ELOOP, a file
    /// ENOTDIR.
    fn open_child(&self, name: &OsStr) -> io::Result<Dir> {
        let handle =
            self.create_settable(name, DIR_ACCESS, nt::FILE_DIRECTORY_FILE).map_err(|e| match e
                .raw_os_error()
            {
                // A file symlink is no directory either; tell it as one.
                Some(errno::ENOTDIR)
                    if self.stat_at(name).is_ok_and(|st| st.kind == Kind::Special) =>
                {
                    io::Error::from_raw_os_error(errno::ELOOP)
                }
                _ => e,
            })?;
        let dir = Dir { handle };
        if dir.stat()?.kind != Kind::Dir {
            return Err(io::Error::from_raw_os_error(errno::ELOOP));
        }
        Ok(dir)
    }

    /// Opens the child directory `name` on this directory's volume; a
    /// reparse point (ELOOP), another volume (EXDEV) or a file (ENOTDIR)
    /// there is an error.
    pub fn open_dir(&self, name: &OsStr) -> io::Result<Dir> {
        let dir = self.open_child(name)?;
        if dir.stat()?.dev != self.stat()?.dev {
            return Err(io::Error::from_raw_os_error(errno::EXDEV));
        }
        Ok(dir)
    }

    /// Opens the child directory `name`, which may be on another volume (a
    /// configured root): never a reparse point.
    pub fn open_dir_or_mount(&self, name: &OsStr) -> io::Result<Dir> {
        self.open_child(name)
    }

    /// Opens `name` for reading if it is a regular file: `Ok(None)` for a
    /// directory or a reparse point (never followed); EXDEV for a file on
    /// another volume; PermissionDenied for one another process locked.
    pub fn open_file(&self, name: &OsStr) -> io::Result<Option<(File, Stat)>> {
        let handle = match self.create_settable(name, READ_ACCESS, nt::FILE_NON_DIRECTORY_FILE) {
            Err(e) if e.raw_os_error() == Some(errno::EISDIR) => return Ok(None),
            // Open elsewhere without sharing reads (a database, a hive):
            // like a file root may not read, it is left out and listed by
            // a point, and a rollback that needs it stops there.
            Err(e) if e.raw_os_error() == Some(w::ERROR_SHARING_VIOLATION as i32) => {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("in use by another process that shares no reads ({e})"),
                ));
            }
            other => other?,
        };
        let stat = stat_handle(handle.as_raw_handle())?;
        if stat.kind != Kind::File {
            return Ok(None);
        }
        if stat.dev != self.stat()?.dev {
            return Err(io::Error::from_raw_os_error(errno::EXDEV));
        }
        Ok(Some((File::from(handle), stat)))
    }

    /// Creates a new file for writing (and reading back); fails if
    /// anything at all is at `name`. It gets the ACL its directory gives
    /// it (`mode` has no meaning here).
    pub fn create_new(&self, name: &OsStr, _mode: u32) -> io::Result<File> {
        let access = fs::FILE_GENERIC_READ | fs::FILE_GENERIC_WRITE;
        let handle = self.create(name, access, nt::FILE_CREATE, nt::FILE_NON_DIRECTORY_FILE)?;
        Ok(File::from(handle))
    }
}
