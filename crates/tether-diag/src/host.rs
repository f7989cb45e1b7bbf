//! Facts sysinfo does not cover, read from the OS's own interfaces: logged-in
//! users (utmp), batteries and link flags (sysfs), and pending reboots.
//! Each reader takes the filesystem root so tests can point it at fixtures.

use std::path::Path;

use tether_proto::system::{Battery, LoginSession};

/// Why a reboot is pending, if the OS says so.
pub fn pending_reboot() -> Option<String> {
    pending_reboot_in(Path::new("/"), &kernel_release())
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Debian and Ubuntu write `/run/reboot-required` (with the packages in
/// `reboot-required.pkgs`) after updates that need one. Elsewhere, a running
/// kernel whose modules directory is gone while others exist means a newer
/// kernel was installed and the old one removed.
pub(crate) fn pending_reboot_in(root: &Path, kernel: &str) -> Option<String> {
    for dir in ["run", "var/run"] {
        let flag = root.join(dir).join("reboot-required");
        if flag.exists() {
            let pkgs = std::fs::read_to_string(root.join(dir).join("reboot-required.pkgs"))
                .unwrap_or_default();
            let mut names: Vec<&str> =
                pkgs.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            names.sort_unstable();
            names.dedup();
            return Some(match names.len() {
                0 => "the system says a reboot is required".to_owned(),
                n if n <= 3 => format!("updated packages need a reboot: {}", names.join(", ")),
                n => format!(
                    "updated packages need a reboot: {} and {} more",
                    names[..3].join(", "),
                    n - 3
                ),
            });
        }
    }
    let modules = root.join("lib/modules");
    if !kernel.is_empty() && modules.is_dir() && !modules.join(kernel).exists() {
        let others = std::fs::read_dir(&modules).map(|d| d.count()).unwrap_or(0);
        if others > 0 {
            return Some(format!(
                "the running kernel {kernel} is no longer installed (a newer one is)"
            ));
        }
    }
    None
}

/// Whether the interface is administratively up (IFF_UP in sysfs). Where
/// sysfs does not say, assume it is.
pub fn link_is_up(name: &str) -> bool {
    let path = Path::new("/sys/class/net").join(name).join("flags");
    match std::fs::read_to_string(path) {
        Ok(text) => u32::from_str_radix(text.trim().trim_start_matches("0x"), 16)
            .map_or(true, |f| f & 1 == 1),
        Err(_) => true,
    }
}

/// Batteries as sysfs reports them (`/sys/class/power_supply`).
pub fn batteries() -> Vec<Battery> {
    batteries_in(Path::new("/sys/class/power_supply"))
}

pub(crate) fn batteries_in(dir: &Path) -> Vec<Battery> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let read =
        |p: &Path, f: &str| std::fs::read_to_string(p.join(f)).map(|s| s.trim().to_owned()).ok();
    let mut list: Vec<Battery> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| read(p, "type").as_deref() == Some("Battery"))
        .map(|p| Battery {
            name: p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            percent: read(&p, "capacity").and_then(|c| c.parse().ok()),
            status: read(&p, "status").unwrap_or_else(|| "Unknown".to_owned()),
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    list
}

/// Logged-in users from utmp (glibc layout, Linux).
pub fn login_sessions() -> Vec<LoginSession> {
    ["/run/utmp", "/var/run/utmp"]
        .iter()
        .find_map(|p| std::fs::read(p).ok())
        .map(|data| parse_utmp(&data))
        .unwrap_or_default()
}

/// Size of one glibc `struct utmp` on 64-bit Linux.
const UTMP_RECORD: usize = 384;
/// `ut_type` of a live login.
const USER_PROCESS: i16 = 7;

/// Parses utmp records; anything malformed or not a live login is skipped.
pub(crate) fn parse_utmp(data: &[u8]) -> Vec<LoginSession> {
    let text = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    data.chunks_exact(UTMP_RECORD)
        .filter(|r| i16::from_ne_bytes([r[0], r[1]]) == USER_PROCESS)
        .map(|r| LoginSession {
            line: text(&r[8..40]),
            user: text(&r[44..76]),
            host: text(&r[76..332]),
            login_time_unix: u64::from(u32::from_ne_bytes([r[340], r[341], r[342], r[343]])),
        })
        .filter(|s| !s.user.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utmp_record(kind: i16, user: &str, line: &str, host: &str, time: u32) -> Vec<u8> {
        let mut r = vec![0u8; UTMP_RECORD];
        r[0..2].copy_from_slice(&kind.to_ne_bytes());
        r[8..8 + line.len()].copy_from_slice(line.as_bytes());
        r[44..44 + user.len()].copy_from_slice(user.as_bytes());
        r[76..76 + host.len()].copy_from_slice(host.as_bytes());
        r[340..344].copy_from_slice(&time.to_ne_bytes());
        r
    }

    #[test]
    fn utmp_keeps_live_logins_only() {
        let mut data = utmp_record(USER_PROCESS, "alice", "tty1", "", 1_795_000_000);
        data.extend(utmp_record(8, "gone", "pts/3", "", 1)); // DEAD_PROCESS
        data.extend(utmp_record(USER_PROCESS, "bob", "pts/0", "10.0.0.9", 1_795_000_100));
        data.extend(utmp_record(2, "reboot", "~", "", 1)); // BOOT_TIME
        data.extend_from_slice(&[1, 2, 3]); // a torn tail
        let sessions = parse_utmp(&data);
        assert_eq!(sessions.len(), 2);
        assert_eq!(
            sessions[1],
            LoginSession {
                user: "bob".into(),
                line: "pts/0".into(),
                host: "10.0.0.9".into(),
                login_time_unix: 1_795_000_100
            }
        );
    }

    #[test]
    fn reboot_required_is_read_with_packages() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(pending_reboot_in(root.path(), "6.1.0"), None);
        std::fs::create_dir_all(root.path().join("run")).unwrap();
        std::fs::write(
            root.path().join("run/reboot-required"),
            "*** System restart required ***\n",
        )
        .unwrap();
        std::fs::write(root.path().join("run/reboot-required.pkgs"), "linux-base\nlibc6\nlibc6\n")
            .unwrap();
        assert_eq!(
            pending_reboot_in(root.path(), "6.1.0").as_deref(),
            Some("updated packages need a reboot: libc6, linux-base")
        );
    }

    #[test]
    fn removed_running_kernel_means_reboot() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("lib/modules/6.1.0-20")).unwrap();
        assert!(pending_reboot_in(root.path(), "6.1.0-18").unwrap().contains("6.1.0-18"));
        assert_eq!(pending_reboot_in(root.path(), "6.1.0-20"), None);
    }

    #[test]
    fn batteries_from_sysfs() {
        let dir = tempfile::tempdir().unwrap();
        for (name, kind, cap, status) in
            [("BAT0", "Battery", "87", "Discharging"), ("AC", "Mains", "", "")]
        {
            let p = dir.path().join(name);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("type"), format!("{kind}\n")).unwrap();
            std::fs::write(p.join("capacity"), cap).unwrap();
            std::fs::write(p.join("status"), status).unwrap();
        }
        let batteries = batteries_in(dir.path());
        assert_eq!(
            batteries,
            vec![Battery {
                name: "BAT0".into(),
                percent: Some(87.0),
                status: "Discharging".into()
            }]
        );
    }
}
