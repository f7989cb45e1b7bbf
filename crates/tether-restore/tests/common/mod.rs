//! Shared helpers: temporary trees, snapshots, a seeded random source.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
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
        if shm.is_dir() {
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
    let (uid, gid) = (meta.uid(), meta.gid());
    let node = if meta.is_symlink() {
        Node::Symlink { target: fs::read_link(path).unwrap(), uid, gid }
    } else if meta.is_dir() {
        let mut children: Vec<_> = fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
        children.sort();
        for child in children {
            walk(root, &child, links, out);
        }
        Node::Dir { mode: meta.mode() & 0o7777, uid, gid }
    } else if !meta.is_file() {
        Node::Special { mode: meta.mode(), ino: meta.ino() }
    } else {
        Node::File {
            content: fs::read(path).unwrap(),
            mode: meta.mode() & 0o7777,
            uid,
            gid,
            mtime: (meta.mtime(), meta.mtime_nsec()),
            nlink: links.then(|| meta.nlink()),
        }
    };
    out.insert(rel, node);
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

pub fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

pub fn link(target: &str, at: &Path) {
    symlink(target, at).unwrap();
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
