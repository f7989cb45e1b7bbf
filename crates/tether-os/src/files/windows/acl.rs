//! Owner-only files and directories on Windows: a protected DACL (no ACE
//! inherited from the parent) granting full control to the current user,
//! SYSTEM and Administrators and to no one else, given to `CreateFileW` /
//! `CreateDirectoryW` in their SECURITY_ATTRIBUTES so the object never
//! exists with its parent's ACL. Directories' ACEs are inheritable, so what
//! other programs (SQLite's `-wal` and `-shm`) create inside them is as
//! private. And the reverse: reading an object's owner and DACL back to
//! tell whether anyone else may use it.

use std::ffi::OsStr;
use std::io;
use std::os::windows::ffi::OsStrExt;
#[cfg(test)]
use std::path::Path;
use std::ptr::null_mut;
use std::sync::OnceLock;

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_INSUFFICIENT_BUFFER, GetLastError, HANDLE, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, GetSecurityInfo,
    SDDL_REVISION_1, SE_FILE_OBJECT,
};
use windows_sys::Win32::Security::{
    ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, DACL_SECURITY_INFORMATION, GetAce,
    GetSecurityDescriptorControl, GetTokenInformation, INHERIT_ONLY_ACE,
    OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SE_DACL_PROTECTED, SECURITY_ATTRIBUTES,
    TOKEN_QUERY, TOKEN_USER, TokenUser,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// SYSTEM and the local Administrators group: they can take any file on
/// the machine anyway, and services and backups need them.
pub const SYSTEM: &str = "S-1-5-18";
pub const ADMINISTRATORS: &str = "S-1-5-32-544";

/// ACE types whose body is a mask followed by a SID.
const ACCESS_ALLOWED: u8 = 0;
const ACCESS_DENIED: u8 = 1;
const ACCESS_ALLOWED_CALLBACK: u8 = 9;
const ACCESS_DENIED_CALLBACK: u8 = 10;
/// Object-specific deny types: a deny never opens access.
const ACCESS_DENIED_OBJECT: u8 = 6;
const ACCESS_DENIED_CALLBACK_OBJECT: u8 = 12;

/// A security descriptor built once per process and never freed or
/// changed, with the SECURITY_ATTRIBUTES that point at it.
struct Private {
    attributes: SECURITY_ATTRIBUTES,
}

// SAFETY: the descriptor and the attributes are written once, before the
// value is shared, and only read afterwards (CreateFileW and
// CreateDirectoryW take them as const); the memory is never freed.
unsafe impl Send for Private {}
// SAFETY: as for Send: immutable after construction.
unsafe impl Sync for Private {}

static FILE: OnceLock<Result<Private, i32>> = OnceLock::new();
static DIR: OnceLock<Result<Private, i32>> = OnceLock::new();

/// SECURITY_ATTRIBUTES for a new private file, valid for the whole process.
pub fn file_attributes() -> io::Result<*const SECURITY_ATTRIBUTES> {
    attributes(&FILE, "")
}

/// SECURITY_ATTRIBUTES for a new private directory: the same ACEs, also
/// inherited by the files (OI) and directories (CI) created in it.
pub fn dir_attributes() -> io::Result<*const SECURITY_ATTRIBUTES> {
    attributes(&DIR, "OICI")
}

fn attributes(
    cell: &'static OnceLock<Result<Private, i32>>,
    inherit: &str,
) -> io::Result<*const SECURITY_ATTRIBUTES> {
    match cell.get_or_init(|| build(inherit).map_err(|e| e.raw_os_error().unwrap_or(0))) {
        Ok(private) => Ok(&private.attributes),
        Err(code) => Err(io::Error::from_raw_os_error(*code)),
    }
}

/// `D:P` is a protected DACL (nothing inherited); `FA` is full access.
fn sddl(me: &str, inherit: &str) -> String {
    [me, SYSTEM, ADMINISTRATORS].iter().fold("D:P".to_owned(), |mut s, sid| {
        s.push_str(&format!("(A;{inherit};FA;;;{sid})"));
        s
    })
}

fn build(inherit: &str) -> io::Result<Private> {
    // Kept for the whole process.
    let descriptor = from_sddl(&sddl(&current_user()?, inherit))?;
    Ok(Private {
        attributes: SECURITY_ATTRIBUTES {
            nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: descriptor,
            bInheritHandle: 0,
        },
    })
}

/// The security descriptor an SDDL string describes, LocalAlloc'd: the
/// caller keeps it or frees it with LocalFree.
fn from_sddl(sddl: &str) -> io::Result<PSECURITY_DESCRIPTOR> {
    let text = wide(OsStr::new(sddl));
    let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
    // SAFETY: `text` is NUL-terminated; on success the call stores a
    // LocalAlloc'd descriptor in `descriptor`.
    let ok = unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            text.as_ptr(),
            SDDL_REVISION_1,
            &mut descriptor,
            null_mut(),
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(descriptor)
}

/// The SID of the user this process runs as (its token's user), e.g.
/// `S-1-5-21-…-1001`.
pub fn current_user() -> io::Result<String> {
    let mut token: HANDLE = null_mut();
    // SAFETY: the pseudo-handle of this process needs no closing; `token`
    // receives a handle closed below.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let user = token_user(token);
    // SAFETY: `token` is the open handle from above, closed once.
    unsafe { CloseHandle(token) };
    user
}

fn token_user(token: HANDLE) -> io::Result<String> {
    let mut len = 0u32;
    // SAFETY: a size query: no buffer, the needed length goes to `len`.
    let sized = unsafe { GetTokenInformation(token, TokenUser, null_mut(), 0, &mut len) };
    // SAFETY: reads this thread's last error, set by the call above.
    if sized == 0 && unsafe { GetLastError() } != ERROR_INSUFFICIENT_BUFFER {
        return Err(io::Error::last_os_error());
    }
    // u64s: the buffer is aligned for TOKEN_USER's pointer.
    let mut buffer = vec![0u64; (len as usize).div_ceil(8).max(1)];
    // SAFETY: `buffer` is writable and at least `len` bytes long.
    if unsafe { GetTokenInformation(token, TokenUser, buffer.as_mut_ptr().cast(), len, &mut len) }
        == 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the call filled the buffer with a TOKEN_USER whose SID
    // points into the same buffer, alive until the end of this function.
    let sid = unsafe { (*buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    sid_string(sid)
}

/// `sid` in its `S-1-…` form.
fn sid_string(sid: PSID) -> io::Result<String> {
    let mut text = null_mut();
    // SAFETY: `sid` is a valid SID from the caller; on success `text` is a
    // LocalAlloc'd NUL-terminated string, freed below.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `text` is NUL-terminated, so the length stays inside it.
    let len = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
    // SAFETY: `len` u16s were just read from `text`.
    let s = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) });
    // SAFETY: allocated by ConvertSidToStringSidW with LocalAlloc, freed once.
    unsafe { LocalFree(text.cast()) };
    Ok(s)
}

fn wide(s: &OsStr) -> Vec<u16> {
    s.encode_wide().chain(std::iter::once(0)).collect()
}

/// An object's owner and DACL, as read back.
#[derive(Debug)]
pub struct Security {
    pub owner: String,
    /// SE_DACL_PROTECTED: nothing is inherited from the parent (what the
    /// tests check of a created file; the verdict needs only the ACEs).
    #[cfg_attr(not(test), allow(dead_code))]
    pub protected: bool,
    /// None: a NULL DACL, which lets everyone do everything.
    pub aces: Option<Vec<Ace>>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Ace {
    pub kind: AceKind,
    pub sid: String,
    pub mask: u32,
    pub flags: u8,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum AceKind {
    Allow,
    Deny,
    /// An allow ACE of a layout not read here (object, compound).
    OtherAllow(u8),
}

impl Ace {
    /// Inherit-only ACEs are templates for children; they give no access
    /// to the object itself.
    pub fn applies_here(&self) -> bool {
        u32::from(self.flags) & INHERIT_ONLY_ACE == 0
    }
}

/// The owner and DACL of an open file (its handle needs READ_CONTROL,
/// which any read access includes).
pub fn of_handle(handle: HANDLE) -> io::Result<Security> {
    read(|owner, dacl, descriptor| {
        // SAFETY: the caller's handle is open; the out-pointers are valid
        // and the descriptor they point into is freed by `read`.
        unsafe {
            GetSecurityInfo(
                handle,
                SE_FILE_OBJECT,
                OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                owner,
                null_mut(),
                dacl,
                null_mut(),
                descriptor,
            )
        }
    })
}

fn read(
    call: impl FnOnce(*mut PSID, *mut *mut ACL, *mut PSECURITY_DESCRIPTOR) -> u32,
) -> io::Result<Security> {
    let mut owner: PSID = null_mut();
    let mut dacl: *mut ACL = null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = null_mut();
    let code = call(&mut owner, &mut dacl, &mut descriptor);
    if code != 0 {
        return Err(io::Error::from_raw_os_error(code as i32));
    }
    let security = parse(owner, dacl, descriptor);
    // SAFETY: the descriptor was LocalAlloc'd by the call; `owner` and
    // `dacl` point into it and are not used after this.
    unsafe { LocalFree(descriptor) };
    security
}

/// The owner and DACL of a descriptor in memory (the tests read what
/// [`file_attributes`] and [`dir_attributes`] hand to the system).
#[cfg(test)]
pub fn of_descriptor(descriptor: PSECURITY_DESCRIPTOR) -> io::Result<Security> {
    use windows_sys::Win32::Security::{GetSecurityDescriptorDacl, GetSecurityDescriptorOwner};
    let (mut owner, mut dacl): (PSID, *mut ACL) = (null_mut(), null_mut());
    let (mut present, mut defaulted) = (0, 0);
    // SAFETY: a valid descriptor; the pointers returned point into it.
    let ok = unsafe {
        GetSecurityDescriptorDacl(descriptor, &mut present, &mut dacl, &mut defaulted) != 0
            && GetSecurityDescriptorOwner(descriptor, &mut owner, &mut defaulted) != 0
    };
    if !ok {
        return Err(io::Error::last_os_error());
    }
    parse(owner, dacl, descriptor)
}

/// The descriptor behind [`file_attributes`] or [`dir_attributes`].
#[cfg(test)]
pub fn descriptor_of(attributes: *const SECURITY_ATTRIBUTES) -> PSECURITY_DESCRIPTOR {
    // SAFETY: the process-lifetime attributes built by `build`.
    unsafe { (*attributes).lpSecurityDescriptor }
}

/// Creates the directory `path` with the DACL of `sddl` (a test builds
/// one others may write).
#[cfg(test)]
pub fn create_dir_with(path: &Path, sddl: &str) -> io::Result<()> {
    use windows_sys::Win32::Storage::FileSystem::CreateDirectoryW;
    // Freed below.
    let descriptor = from_sddl(sddl)?;
    let attributes = SECURITY_ATTRIBUTES {
        nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor,
        bInheritHandle: 0,
    };
    let name = wide(path.as_os_str());
    // SAFETY: `name` is NUL-terminated and `attributes` outlives the call.
    let mut made = unsafe { CreateDirectoryW(name.as_ptr(), &attributes) } != 0;
    let mut error = io::Error::last_os_error();
    if made {
        // Set again: Wine masks the mode it makes of the DACL at creation
        // with the umask (no write for others), not the one set later.
        use windows_sys::Win32::Security::Authorization::SetNamedSecurityInfoW;
        use windows_sys::Win32::Security::{
            GetSecurityDescriptorDacl, PROTECTED_DACL_SECURITY_INFORMATION,
        };
        let (mut present, mut defaulted, mut dacl) = (0, 0, null_mut());
        // SAFETY: a valid descriptor; `dacl` points into it, used before
        // it is freed; `name` is NUL-terminated.
        let code = unsafe {
            GetSecurityDescriptorDacl(descriptor, &mut present, &mut dacl, &mut defaulted);
            SetNamedSecurityInfoW(
                name.as_ptr(),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                null_mut(),
                null_mut(),
                dacl,
                null_mut(),
            )
        };
        if code != 0 {
            made = false;
            error = io::Error::from_raw_os_error(code as i32);
        }
    }
    // SAFETY: allocated by the conversion above with LocalAlloc, freed once.
    unsafe { LocalFree(descriptor) };
    if made { Ok(()) } else { Err(error) }
}

/// Whether this process runs under Wine (ntdll exports `wine_get_version`).
#[cfg(test)]
pub fn running_under_wine() -> bool {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
    let ntdll = wide(OsStr::new("ntdll.dll"));
    // SAFETY: NUL-terminated names; ntdll is loaded in every process and
    // the module handle needs no release.
    unsafe {
        let module = GetModuleHandleW(ntdll.as_ptr());
        !module.is_null() && GetProcAddress(module, c"wine_get_version".as_ptr().cast()).is_some()
    }
}

fn parse(owner: PSID, dacl: *mut ACL, descriptor: PSECURITY_DESCRIPTOR) -> io::Result<Security> {
    let mut control = 0u16;
    let mut revision = 0u32;
    // SAFETY: `descriptor` is the valid descriptor just returned.
    if unsafe { GetSecurityDescriptorControl(descriptor, &mut control, &mut revision) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let owner = if owner.is_null() { String::new() } else { sid_string(owner)? };
    let aces = if dacl.is_null() {
        None
    } else {
        // SAFETY: a non-null DACL from the call, inside `descriptor`.
        let count = unsafe { (*dacl).AceCount };
        let mut aces = Vec::with_capacity(count.into());
        for index in 0..u32::from(count) {
            let mut ace: *mut core::ffi::c_void = null_mut();
            // SAFETY: `index` is below the ACL's count; `ace` receives a
            // pointer into the ACL.
            if unsafe { GetAce(dacl, index, &mut ace) } == 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: every ACE starts with an ACE_HEADER.
            let header = unsafe { *ace.cast::<ACE_HEADER>() };
            let kind = match header.AceType {
                ACCESS_ALLOWED | ACCESS_ALLOWED_CALLBACK => AceKind::Allow,
                ACCESS_DENIED | ACCESS_DENIED_CALLBACK => AceKind::Deny,
                ACCESS_DENIED_OBJECT | ACCESS_DENIED_CALLBACK_OBJECT => {
                    aces.push(Ace { kind: AceKind::Deny, sid: String::new(), mask: 0, flags: 0 });
                    continue;
                }
                other => {
                    aces.push(Ace {
                        kind: AceKind::OtherAllow(other),
                        sid: String::new(),
                        mask: u32::MAX,
                        flags: header.AceFlags,
                    });
                    continue;
                }
            };
            // SAFETY: allowed, denied and their callback forms share
            // ACCESS_ALLOWED_ACE's layout: header, mask, then the SID.
            let body = unsafe { &*ace.cast::<ACCESS_ALLOWED_ACE>() };
            let sid = sid_string((&body.SidStart as *const u32).cast_mut().cast())?;
            aces.push(Ace { kind, sid, mask: body.Mask, flags: header.AceFlags });
        }
        Some(aces)
    };
    Ok(Security { owner, protected: control & SE_DACL_PROTECTED != 0, aces })
}

/// Why `security` lets someone other than `me`, SYSTEM and Administrators
/// do any of `forbidden` (an access mask), or own the object.
pub fn not_private(security: &Security, me: &str, forbidden: u32) -> Option<String> {
    let trusted = |sid: &str| sid == me || sid == SYSTEM || sid == ADMINISTRATORS;
    if !trusted(&security.owner) {
        return Some(format!("it belongs to {}, not to you", security.owner));
    }
    let fix = "make it yours alone: icacls PATH /inheritance:r /grant:r \
               \"%USERNAME%:F\" SYSTEM:F Administrators:F";
    let Some(aces) = &security.aces else {
        return Some(format!("everyone may use it (no access list); {fix}"));
    };
    let open = aces.iter().find(|ace| {
        ace.applies_here()
            && match ace.kind {
                AceKind::Allow => !trusted(&ace.sid) && ace.mask & forbidden != 0,
                AceKind::OtherAllow(_) => true,
                AceKind::Deny => false,
            }
    })?;
    let who = if open.sid.is_empty() { "an access rule Tether cannot read" } else { &open.sid };
    Some(format!("others may use it ({who} has access {:#x}); {fix}", open.mask))
}
