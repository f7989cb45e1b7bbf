use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::Path;

use windows_sys::Win32::Foundation::{GENERIC_WRITE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, CREATE_ALWAYS, CREATE_NEW, CreateDirectoryW, CreateFileW,
    FILE_ATTRIBUTE_NORMAL, FILE_FLAG_OPEN_REPARSE_POINT, FILE_GENERIC_WRITE, FILE_SHARE_DELETE,
    FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_WRITE_DATA, GetFileInformationByHandle, OPEN_ALWAYS,
};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_ATTRIBUTE_REPARSE_POINT, FILE_FLAG_BACKUP_SEMANTICS, FILE_READ_ATTRIBUTES, READ_CONTROL,
};

use super::{Create, Others};

mod acl;

pub const PRIVATE_FILE: &str = "readable by you, SYSTEM and Administrators only";

/// What others may hold in an ACE on a private file: reading its
/// attributes and its ACL, and waiting on it. Anything else is use.
const HARMLESS: u32 = 0x0010_0000 /* SYNCHRONIZE */ | 0x0002_0000 /* READ_CONTROL */
    | 0x80 /* FILE_READ_ATTRIBUTES */;

/// Rights that change a directory or what it holds: add a file or a
/// subdirectory, delete a child, write its attributes, delete, rewrite its
/// ACL or owner, and the generic forms.
const DIR_WRITE: u32 = 0x2 | 0x4 | 0x10 | 0x40 | 0x100 | 0x0001_0000 | 0x0004_0000 | 0x0008_0000
    | 0x1000_0000 /* GENERIC_ALL */ | 0x4000_0000 /* GENERIC_WRITE */;

pub fn create(how: &Create, path: &Path) -> io::Result<File> {
    if how.mode & 0o007 != 0 {
        let mut options = OpenOptions::new();
        options.write(true).append(how.append).truncate(how.truncate);
        if how.new {
            options.create_new(true);
        } else {
            options.create(true);
        }
        if how.no_follow {
            no_follow(&mut options);
        }
        return options.open(path);
    }
    let attributes = acl::file_attributes()?;
    // As std opens for append: write access without FILE_WRITE_DATA, so
    // every write lands at the end.
    let access = if how.append { FILE_GENERIC_WRITE & !FILE_WRITE_DATA } else { GENERIC_WRITE };
    let disposition = match (how.new, how.truncate) {
        (true, _) => CREATE_NEW,
        (false, true) => CREATE_ALWAYS,
        (false, false) => OPEN_ALWAYS,
    };
    let flags =
        FILE_ATTRIBUTE_NORMAL | if how.no_follow { FILE_FLAG_OPEN_REPARSE_POINT } else { 0 };
    let name = wide(path);
    // SAFETY: `name` is NUL-terminated and `attributes` points at
    // process-lifetime SECURITY_ATTRIBUTES; the handle returned is owned
    // by the File below.
    let handle = unsafe {
        CreateFileW(
            name.as_ptr(),
            access,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            attributes,
            disposition,
            flags,
            std::ptr::null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a valid handle just opened, owned by nothing else.
    Ok(File::from(unsafe { OwnedHandle::from_raw_handle(handle) }))
}

pub fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
}

pub fn is_symlink_refusal(_error: &io::Error) -> bool {
    false
}

pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let attributes = acl::dir_attributes()?;
    let name = wide(dir);
    // SAFETY: `name` is NUL-terminated; `attributes` lives for the process.
    if unsafe { CreateDirectoryW(name.as_ptr(), attributes) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    match create_private_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                create_private_dir_all(parent)?;
            }
            match create_private_dir(dir) {
                Err(_) if exists(dir) => accept_existing(dir),
                other => other,
            }
        }
        // There already (or made by another process meanwhile; a path we
        // may not create in may answer "access denied" first): kept only
        // if it is a private directory, not a link and not one that
        // someone else made first to read or swap what goes in it.
        Err(_) if exists(dir) => accept_existing(dir),
        Err(e) => Err(e),
    }
}

/// Whether anything (a link included) is at `path`.
fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// An existing directory where a private one is wanted: refused when it is
/// a link (a junction could point anywhere) or others own it or may write
/// in it (C:\ProgramData and C:\ let any user create directories first).
fn accept_existing(dir: &Path) -> io::Result<()> {
    let handle = open_unfollowed(dir)?;
    let refuse = |why: String| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} exists and is not a private directory: {why}", dir.display()),
        )
    };
    if !handle.metadata()?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a directory", dir.display()),
        ));
    }
    match judge(&acl::of_handle(handle.as_raw_handle())?, Others::MayNotWrite)? {
        None => Ok(()),
        Some(why) => Err(refuse(format!(
            "{why} (or remove it and let Tether create it; someone may have made it first)"
        ))),
    }
}

/// `path` opened itself (`FILE_FLAG_OPEN_REPARSE_POINT`; a directory too,
/// `FILE_FLAG_BACKUP_SEMANTICS`) for reading its attributes and ACL only;
/// refused when it is a reparse point (a symlink, a junction), so what is
/// judged is the object at `path`, not whatever a link points to.
fn open_unfollowed(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .access_mode(READ_CONTROL | FILE_READ_ATTRIBUTES)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS)
        .open(path)?;
    if file.metadata()?.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a link (a reparse point); Tether does not follow it", path.display()),
        ));
    }
    Ok(file)
}

pub fn not_private(path: &Path, _meta: &Metadata, others: Others) -> io::Result<Option<String>> {
    let file = open_unfollowed(path)?;
    judge(&acl::of_handle(file.as_raw_handle())?, others)
}

pub fn not_private_file(file: &File, others: Others) -> io::Result<Option<String>> {
    judge(&acl::of_handle(file.as_raw_handle())?, others)
}

fn judge(security: &acl::Security, others: Others) -> io::Result<Option<String>> {
    let forbidden = match others {
        Others::MayNotUse => !HARMLESS,
        Others::MayNotWrite => DIR_WRITE,
    };
    Ok(acl::not_private(security, &acl::current_user()?, forbidden))
}

fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain(std::iter::once(0)).collect()
}

pub fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    let mut permissions = std::fs::metadata(path)?.permissions();
    permissions.set_readonly(mode & 0o200 == 0);
    std::fs::set_permissions(path, permissions)
}

pub fn set_file_mode(file: &File, mode: u32) -> io::Result<()> {
    let mut permissions = file.metadata()?.permissions();
    permissions.set_readonly(mode & 0o200 == 0);
    file.set_permissions(permissions)
}

pub fn mode(_meta: &Metadata) -> Option<u32> {
    None
}

pub fn path_id(path: &Path) -> io::Result<u64> {
    file_id(&File::open(path)?)
}

pub fn file_id(file: &File) -> io::Result<u64> {
    let info = by_handle(file)?;
    Ok((u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow))
}

pub fn link_count(file: &File) -> io::Result<u64> {
    Ok(u64::from(by_handle(file)?.nNumberOfLinks))
}

fn by_handle(file: &File) -> io::Result<BY_HANDLE_FILE_INFORMATION> {
    let mut info = std::mem::MaybeUninit::<BY_HANDLE_FILE_INFORMATION>::zeroed();
    // SAFETY: the handle is open for as long as `file` lives, and `info`
    // is a writable BY_HANDLE_FILE_INFORMATION the call fills.
    if unsafe { GetFileInformationByHandle(file.as_raw_handle(), info.as_mut_ptr()) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the call succeeded, so it wrote the whole structure (and it
    // was zeroed before).
    Ok(unsafe { info.assume_init() })
}

#[cfg(test)]
mod tests {
    use super::acl::{ADMINISTRATORS, Ace, AceKind, SYSTEM, Security};
    use super::*;

    /// FILE_ALL_ACCESS, what the SDDL's `FA` stores.
    const FULL: u32 = 0x001F_01FF;
    /// OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE.
    const OICI: u8 = 0x3;
    const INHERITED: u8 = 0x10;

    fn allow(sid: &str, mask: u32, flags: u8) -> Ace {
        Ace { kind: AceKind::Allow, sid: sid.into(), mask, flags }
    }

    /// The DACL read back from the file system, sorted for comparing.
    fn dacl(path: &Path) -> (bool, Vec<Ace>) {
        let file = open_unfollowed(path).unwrap();
        let security = acl::of_handle(file.as_raw_handle()).unwrap();
        let mut aces = security.aces.expect("a DACL, not a NULL one");
        aces.sort_by(|a, b| a.sid.cmp(&b.sid));
        (security.protected, aces)
    }

    fn expected(me: &str, flags: u8) -> Vec<Ace> {
        let mut aces: Vec<Ace> =
            [me, SYSTEM, ADMINISTRATORS].iter().map(|sid| allow(sid, FULL, flags)).collect();
        aces.sort_by(|a, b| a.sid.cmp(&b.sid));
        aces
    }

    #[test]
    fn the_private_descriptors_are_protected_and_name_only_owner_system_and_administrators() {
        let me = acl::current_user().unwrap();
        assert!(me.starts_with("S-1-5-"), "{me}");
        for (attributes, flags) in [(acl::file_attributes(), 0), (acl::dir_attributes(), OICI)] {
            let descriptor = acl::descriptor_of(attributes.unwrap());
            let security = acl::of_descriptor(descriptor).unwrap();
            let mut aces = security.aces.expect("a DACL, not a NULL one");
            aces.sort_by(|a, b| a.sid.cmp(&b.sid));
            assert_eq!((security.protected, aces), (true, expected(&me, flags)));
        }
    }

    /// On Windows the DACL read back is the one given at creation (and
    /// inherited by what is created inside a private directory). Wine
    /// keeps no DACL: it turns the one given at creation into Unix mode
    /// bits and reads back a DACL made from them (the user, SYSTEM, and
    /// Everyone for the "other" bits), so there the test checks that the
    /// private ones leave Everyone out while a `0o644` file lets it in.
    #[test]
    fn private_files_and_directories_read_back_as_private() {
        let root = std::env::temp_dir().join(format!("tether-os-acl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("pki");
        super::create_private_dir_all(&dir).unwrap();
        let key = dir.join("ca.key");
        create(&Create::new(0o600).must_be_new(), &key).unwrap();
        let log = dir.join("audit.jsonl");
        create(&Create::new(0o640).append(), &log).unwrap();
        let public = dir.join("ca.crt");
        create(&Create::new(0o644).must_be_new(), &public).unwrap();
        // What another program creates inside (SQLite's -wal) inherits.
        let wal = dir.join("tickets.sqlite-wal");
        std::fs::write(&wal, b"x").unwrap();
        let me = acl::current_user().unwrap();

        let seen = [&root, &dir, &key, &log, &public, &wal].map(|p| dacl(p));
        let judged = [&root, &dir, &key, &log, &public].map(|p| {
            let meta = std::fs::metadata(p).unwrap();
            not_private(p, &meta, Others::MayNotUse).unwrap()
        });
        let open = not_private_file(&File::open(&key).unwrap(), Others::MayNotUse).unwrap();
        std::fs::remove_dir_all(&root).unwrap();

        assert_eq!(judged[..4], [None, None, None, None], "{seen:#?}");
        assert_eq!(open, None, "the open key counts as private");
        let everyone = |aces: &[Ace]| aces.iter().any(|a| a.sid == "S-1-1-0");
        if acl::running_under_wine() {
            for (i, (_, aces)) in seen[..4].iter().enumerate() {
                assert!(
                    aces.iter().all(|a| a.sid == me || a.sid == SYSTEM),
                    "private object {i}: {aces:?}"
                );
            }
            assert!(everyone(&seen[4].1), "a 0644 file is Everyone's to read: {:?}", seen[4]);
            assert!(judged[4].as_deref().is_some_and(|why| why.contains("S-1-1-0")));
        } else {
            assert_eq!(seen[0], (true, expected(&me, OICI)), "a created parent");
            assert_eq!(seen[1], (true, expected(&me, OICI)), "the directory");
            assert_eq!(seen[2], (true, expected(&me, 0)), "a 0600 file");
            assert_eq!(seen[3], (true, expected(&me, 0)), "a 0640 file");
            assert!(!seen[4].0, "a 0644 file inherits its directory's ACL");
            assert_eq!(seen[5].1, expected(&me, INHERITED), "a file made inside inherits");
        }
    }

    /// An existing directory is kept only when it is private: one others
    /// may write in (made first by another user, as anyone may in
    /// C:\ProgramData) or a file in its place is refused, naming the path.
    /// (Wine 8 makes no junctions, so refusing a link is for Windows.)
    #[test]
    fn an_existing_directory_is_kept_only_when_private() {
        let root = std::env::temp_dir().join(format!("tether-os-existing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        super::create_private_dir_all(&root).unwrap();
        let again = super::create_private_dir_all(&root);
        let open = root.join("open");
        acl::create_dir_with(&open, "D:P(A;OICI;FA;;;WD)").unwrap();
        let refused = super::create_private_dir_all(&open);
        let below = super::create_private_dir_all(&open.join("sub"));
        let file = root.join("file");
        std::fs::write(&file, b"x").unwrap();
        let not_dir = super::create_private_dir_all(&file);
        let judged = not_private(&open, &std::fs::metadata(&open).unwrap(), Others::MayNotWrite);
        std::fs::remove_dir_all(&root).unwrap();

        again.unwrap();
        let e = refused.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
        let text = e.to_string();
        assert!(text.contains(&*open.to_string_lossy()) && text.contains("S-1-1-0"), "{text}");
        // Only what the call creates or the final directory is judged:
        // `open` already exists here, so `sub` is made inside it.
        below.unwrap();
        assert!(not_dir.unwrap_err().to_string().contains("not a directory"));
        assert!(judged.unwrap().is_some_and(|why| why.contains("S-1-1-0")));
    }

    #[test]
    fn others_with_access_or_ownership_make_a_file_not_private() {
        let me = "S-1-5-21-1-2-3-1001";
        let mine =
            |aces: Vec<Ace>| Security { owner: me.into(), protected: true, aces: Some(aces) };
        let judge = |s: &Security, o| {
            let forbidden = match o {
                Others::MayNotUse => !HARMLESS,
                Others::MayNotWrite => DIR_WRITE,
            };
            acl::not_private(s, me, forbidden)
        };
        let ours = mine(expected(me, 0));
        assert_eq!(judge(&ours, Others::MayNotUse), None);
        let everyone_reads = mine(vec![allow(me, FULL, 0), allow("S-1-1-0", 0x0012_0089, 0)]);
        let why = judge(&everyone_reads, Others::MayNotUse).unwrap();
        assert!(why.contains("S-1-1-0") && why.contains("icacls"), "{why}");
        // Reading is no writing: a directory others may list is still ours.
        assert_eq!(judge(&everyone_reads, Others::MayNotWrite), None);
        let users_add_files = mine(vec![allow("S-1-5-32-545", 0x2, 0)]);
        assert!(judge(&users_add_files, Others::MayNotWrite).is_some());
        // Only waiting on it and reading its ACL is harmless.
        let sync_only = mine(vec![allow("S-1-1-0", 0x0012_0000, 0)]);
        assert_eq!(judge(&sync_only, Others::MayNotUse), None);
        // An inherit-only template gives nothing on the object itself.
        let template = mine(vec![allow("S-1-5-32-545", FULL, 0x8 | OICI)]);
        assert_eq!(judge(&template, Others::MayNotUse), None);
        let theirs = Security { owner: "S-1-5-21-1-2-3-1002".into(), ..mine(vec![]) };
        assert!(
            judge(&theirs, Others::MayNotUse).unwrap().contains("belongs to S-1-5-21-1-2-3-1002")
        );
        let null_dacl = Security { aces: None, ..mine(vec![]) };
        assert!(judge(&null_dacl, Others::MayNotUse).unwrap().contains("everyone"));
        let unreadable =
            mine(vec![Ace { kind: AceKind::OtherAllow(5), sid: String::new(), mask: 0, flags: 0 }]);
        assert!(judge(&unreadable, Others::MayNotUse).unwrap().contains("cannot read"));
    }
}
