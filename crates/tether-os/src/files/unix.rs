use std::fs::{DirBuilder, File, Metadata, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::{Create, Others};

pub const PRIVATE_FILE: &str = "mode 0600";

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

pub fn create(how: &Create, path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).append(how.append).truncate(how.truncate).mode(how.mode);
    if how.new {
        options.create_new(true);
    } else {
        options.create(true);
    }
    if how.no_follow {
        no_follow(&mut options);
    }
    options.open(path)
}

pub fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
}

pub fn is_symlink_refusal(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::ELOOP)
}

pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().mode(0o700).create(dir)
}

pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

pub fn not_private(_path: &Path, meta: &Metadata, others: Others) -> io::Result<Option<String>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Ok(Some(format!("it belongs to user {}, not to you", meta.uid())));
    }
    let forbidden = match others {
        Others::MayNotUse => 0o077,
        Others::MayNotWrite => 0o022,
    };
    let mode = meta.mode() & 0o777;
    if mode & forbidden != 0 {
        let wanted = mode & !forbidden;
        return Ok(Some(format!("others may use it (mode {mode:o}); run: chmod {wanted:o} on it")));
    }
    Ok(None)
}

pub fn not_private_file(file: &File, others: Others) -> io::Result<Option<String>> {
    not_private(Path::new(""), &file.metadata()?, others)
}

pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(path, Permissions::from_mode(mode))
}

pub fn set_file_mode(file: &File, mode: u32) -> io::Result<()> {
    file.set_permissions(Permissions::from_mode(mode))
}

pub fn mode(meta: &Metadata) -> Option<u32> {
    Some(meta.mode())
}

pub fn path_id(path: &Path) -> io::Result<u64> {
    Ok(std::fs::metadata(path)?.ino())
}

pub fn file_id(file: &File) -> io::Result<u64> {
    Ok(file.metadata()?.ino())
}

pub fn link_count(file: &File) -> io::Result<u64> {
    Ok(file.metadata()?.nlink())
}
