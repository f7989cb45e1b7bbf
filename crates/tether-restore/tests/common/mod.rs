//! Shared helpers: temporary trees, snapshots, a seeded random source.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use tether_restore::{Engine, StoreConfig};

/// Keeps injected crashes from printing a panic message each.
pub fn quiet_failpoints() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload().downcast_ref::<String>().map(String::as_str).unwrap_or("");
        if !message.starts_with("failpoint:") {
            default(info);
        }
    }));
}

/// A tree under test and the store beside it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub state: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::in_dir(tempfile::tempdir().unwrap())
    }

    /// On tmpfs where there is one: the exhaustive fault tests run
    /// thousands of rollbacks, each flushing its filesystem (syncfs),
    /// which on a disk shared with builds costs more than the test.
    pub fn in_memory() -> Fixture {
        let shm = Path::new("/dev/shm");
        if cfg!(unix) && shm.is_dir() {
            Fixture::in_dir(tempfile::tempdir_in(shm).unwrap())
        } else {
            Fixture::new()
        }
    }

    fn in_dir(dir: tempfile::TempDir) -> Fixture {
        let root = dir.path().join("root");
        let state = dir.path().join("state");
        fs::create_dir(&root).unwrap();
        Fixture { dir, root, state }
    }

    pub fn config(&self) -> StoreConfig {
        StoreConfig::new(&self.state, vec![self.root.clone()])
    }

    pub fn open(&self) -> Engine {
        let (engine, recovery) = Engine::open(self.config()).unwrap();
        assert_eq!(recovery, None);
        engine
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, content: &[u8]) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    /// The tree under test, link counts included (so hard-link groups
    /// are compared too).
    pub fn snapshot(&self) -> Snapshot {
        let mut out = BTreeMap::new();
        walk(&self.root, &self.root, true, &mut out);
        out
    }
}

/// What a rollback must reproduce for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File {
        content: Vec<u8>,
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: (i64, i64),
        nlink: Option<u64>,
    },
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Symlink {
        target: PathBuf,
        uid: u32,
        gid: u32,
    },
    /// A FIFO, socket or device node (never read: a FIFO would block).
    Special {
        mode: u32,
        ino: u64,
    },
}

pub type Snapshot = BTreeMap<String, Node>;

/// Every path under `root` (and root itself) with content and metadata,
/// but not link counts (a user may link to any file they can see).
pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = BTreeMap::new();
    walk(root, root, false, &mut out);
    out
}

fn walk(root: &Path, path: &Path, links: bool, out: &mut Snapshot) {
    let meta = fs::symlink_metadata(path).unwrap();
    let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
    let m = Meta::of(&meta);
    let (uid, gid) = (m.uid, m.gid);
    let node = if meta.is_symlink() {
        Node::Symlink { target: fs::read_link(path).unwrap(), uid, gid }
    } else if meta.is_dir() {
        let mut children: Vec<_> = fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
        children.sort();
        for child in children {
            walk(root, &child, links, out);
        }
        Node::Dir { mode: m.mode, uid, gid }
    } else if !meta.is_file() {
        Node::Special { mode: m.mode, ino: m.ino }
    } else {
        Node::File {
            content: fs::read(path).unwrap(),
            mode: m.mode,
            uid,
            gid,
            mtime: m.mtime,
            nlink: m.nlink.filter(|_| links),
        }
    };
    out.insert(rel, node);
}

/// `path` as the engine names it: `/` between components on every
/// platform (`C:/Users/…` on Windows).
pub fn engine_path(path: &Path) -> String {
    let text = path.to_str().unwrap();
    if cfg!(windows) { text.replace('\\', "/") } else { text.to_owned() }
}

/// Explains the first difference between two snapshots.
pub fn assert_same(actual: &Snapshot, expected: &Snapshot, what: &str) {
    for (path, node) in expected {
        match actual.get(path) {
            None => panic!("{what}: {path:?} is missing"),
            Some(a) if a != node => panic!(
                "{what}: {path:?} differs:\n  actual   {}\n  expected {}",
                brief(a),
                brief(node)
            ),
            _ => {}
        }
    }
    for path in actual.keys() {
        assert!(expected.contains_key(path), "{what}: {path:?} should not exist");
    }
}

fn brief(node: &Node) -> String {
    match node {
        Node::File { content, mode, uid, gid, mtime, nlink } => format!(
            "file {} bytes mode {mode:o} owner {uid}:{gid} mtime {mtime:?} links {nlink:?}",
            content.len()
        ),
        other => format!("{other:?}"),
    }
}

/// The metadata a point records, as each platform has it (Windows: the
/// read-only, hidden and system attributes as `mode`; no owner; no link
/// count, which std does not expose there yet).
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, i64),
    nlink: Option<u64>,
    ino: u64,
}

impl Meta {
    #[cfg(unix)]
    fn of(meta: &fs::Metadata) -> Meta {
        use std::os::unix::fs::MetadataExt;
        let mode = if meta.is_file() || meta.is_dir() { meta.mode() & 0o7777 } else { meta.mode() };
        Meta {
            mode,
            uid: meta.uid(),
            gid: meta.gid(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            nlink: Some(meta.nlink()),
            ino: meta.ino(),
        }
    }

    #[cfg(windows)]
    fn of(meta: &fs::Metadata) -> Meta {
        use std::os::windows::fs::MetadataExt;
        let ticks = meta.last_write_time() as i64;
        Meta {
            mode: meta.file_attributes() & 0x7,
            uid: 0,
            gid: 0,
            mtime: (
                ticks.div_euclid(10_000_000) - 11_644_473_600,
                ticks.rem_euclid(10_000_000) * 100,
            ),
            nlink: None,
            ino: 0,
        }
    }
}

/// Unix: chmod. Windows: read-only if `mode` lets no one write.
pub fn chmod(path: &Path, mode: u32) {
    #[cfg(unix)]
    let permissions = std::os::unix::fs::PermissionsExt::from_mode(mode);
    #[cfg(windows)]
    let permissions = {
        let mut p = fs::symlink_metadata(path).unwrap().permissions();
        p.set_readonly(mode & 0o222 == 0);
        p
    };
    fs::set_permissions(path, permissions).unwrap();
}

/// A symlink at `at` (Windows: a file symlink, which needs the privilege
/// to make them).
pub fn link(target: &str, at: &Path) {
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, at).unwrap();
    #[cfg(windows)]
    std::os::windows::fs::symlink_file(target, at).unwrap();
}

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs the tests of a binary that start child processes (`mount`,
/// `mknod`) one at a time: a fork while another test holds a store lock
/// holds that lock too until the child execs, and that test's next open
/// of the store would find it locked.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A tmpfs mounted for a test (which needs root, as the agent runs),
/// unmounted when dropped.
pub struct Mount(PathBuf);

impl Mount {
    pub fn new(at: &Path, size: &str) -> Mount {
        fs::create_dir_all(at).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .expect("run mount");
        assert!(status.success(), "mounting a tmpfs needs root");
        Mount(at.to_owned())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// xorshift64*: reproducible pseudo-random numbers for property tests.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
