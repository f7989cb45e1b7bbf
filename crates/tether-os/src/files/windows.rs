use std::fs::{DirBuilder, File, Metadata, OpenOptions};
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;

use windows_sys::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, FILE_FLAG_OPEN_REPARSE_POINT, GetFileInformationByHandle,
};

pub const PRIVATE_FILE: &str = "inherited ACL, not restricted: limit it to its owner";

pub fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

pub fn create_mode(options: &mut OpenOptions, _mode: u32) -> &mut OpenOptions {
    options
}

pub fn dir_create_mode(builder: &mut DirBuilder, _mode: u32) -> &mut DirBuilder {
    builder
}

pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    let mut permissions = std::fs::metadata(path)?.permissions();
    permissions.set_readonly(mode & 0o200 == 0);
    std::fs::set_permissions(path, permissions)
}

pub fn mode(_meta: &Metadata) -> Option<u32> {
    None
}

pub fn path_id(path: &Path) -> io::Result<u64> {
    file_id(&File::open(path)?)
}

pub fn file_id(file: &File) -> io::Result<u64> {
    let mut info = std::mem::MaybeUninit::<BY_HANDLE_FILE_INFORMATION>::zeroed();
    // SAFETY: the handle is open for as long as `file` lives, and `info`
    // is a writable BY_HANDLE_FILE_INFORMATION the call fills.
    if unsafe { GetFileInformationByHandle(file.as_raw_handle(), info.as_mut_ptr()) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the call succeeded, so it wrote the whole structure (and it
    // was zeroed before).
    let info = unsafe { info.assume_init() };
    Ok((u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow))
}

pub fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
}

/// The link itself is opened, never refused: the caller checks it.
pub fn is_link_refusal(_e: &io::Error) -> bool {
    false
}
