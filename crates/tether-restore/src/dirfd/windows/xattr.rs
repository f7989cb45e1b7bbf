//! Extended attributes: none on Windows (NTFS's extended attributes and
//! alternate data streams are neither recorded nor restored). Listing
//! answers none, so a point records none and a rollback changes none.

use std::ffi::{CStr, CString};
use std::io;
use std::os::windows::io::AsRawHandle;

use super::invalid;

pub(crate) fn list(_fd: &impl AsRawHandle) -> io::Result<Vec<Vec<u8>>> {
    Ok(Vec::new())
}

fn none() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "extended attributes are not kept on Windows")
}

pub(crate) fn get(_fd: &impl AsRawHandle, _name: &CStr) -> io::Result<Vec<u8>> {
    Err(none())
}

pub(crate) fn set(_fd: &impl AsRawHandle, _name: &CStr, _value: &[u8]) -> io::Result<()> {
    Err(none())
}

pub(crate) fn remove(_fd: &impl AsRawHandle, _name: &CStr) -> io::Result<()> {
    Err(none())
}

pub(crate) fn name(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| invalid("attribute name contains a NUL byte".into()))
}
