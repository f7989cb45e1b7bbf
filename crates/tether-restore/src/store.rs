//! The content-addressed object store: each distinct file content once,
//! zstd-compressed, named by the BLAKE3 hash of the uncompressed bytes
//! (`objects/ab/cdef…`).
//!
//! Objects are written without a per-file fsync; [`ObjectStore::sync`]
//! flushes the whole filesystem once (syncfs) before a manifest that
//! refers to them is written. That keeps a 10,000-file point from costing
//! 10,000 fsyncs while still never publishing a point whose contents could
//! be lost.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, RestoreError};
use crate::fsutil;

/// Files at least this long are stored in content-defined chunks, each
/// its own object, so a point after a small change (an appended log line)
/// stores only the chunks that changed. Smaller files stay whole objects:
/// one object per file is what keeps the first point of many small files
/// fast.
pub(crate) const CHUNKED_FROM: u64 = 1 << 20;
/// FastCDC sizes: 64 KiB chunks on average, never under 16 KiB (but the
/// last) nor over 256 KiB.
const CHUNK_MIN: u32 = 16 << 10;
const CHUNK_AVG: u32 = 64 << 10;
const CHUNK_MAX: u32 = 256 << 10;

/// The unit of holes a sparse restore makes: filesystems allocate whole
/// blocks, 4 KiB on ext4, XFS and btrfs (a multiple of it elsewhere still
/// leaves most of a hole a hole).
const HOLE_BLOCK: u64 = 4096;

/// zstd level: 3 is zstd's default, a good speed/ratio balance for text.
const LEVEL: i32 = 3;
const BUF: usize = 256 * 1024;

#[derive(Debug)]
pub(crate) struct ObjectStore {
    dir: PathBuf,
}

/// Hashes everything read through it.
struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
    len: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Hashes an open file's content from its start: (hex BLAKE3, length).
/// `path` only names it in errors.
pub(crate) fn hash_file(file: &mut File, path: &Path) -> Result<(String, u64), RestoreError> {
    file.seek(SeekFrom::Start(0)).ctx("read", path)?;
    let mut reader = HashingReader { inner: file, hasher: blake3::Hasher::new(), len: 0 };
    io::copy(&mut reader, &mut io::sink()).ctx("read", path)?;
    Ok((reader.hasher.finalize().to_hex().to_string(), reader.len))
}

fn valid_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl ObjectStore {
    pub fn open(dir: PathBuf) -> Result<ObjectStore, RestoreError> {
        fsutil::create_private_dir(&dir.join("tmp"))?;
        // All 256 shard directories up front: storing an object is then a
        // create and a rename, with no directory checks per object.
        for shard in 0..=255u8 {
            let path = dir.join(format!("{shard:02x}"));
            if !path.is_dir() {
                fsutil::create_private_dir(&path)?;
            }
        }
        Ok(ObjectStore { dir })
    }

    fn path_of(&self, hash: &str) -> PathBuf {
        self.dir.join(&hash[..2]).join(&hash[2..])
    }

    pub fn has(&self, hash: &str) -> bool {
        valid_hash(hash) && self.path_of(hash).is_file()
    }

    /// Stores an open file's content unless an equal content is stored
    /// already. Returns the hash and length of what was read. The caller
    /// opened the file safely (see [`crate::tree::open_regular`]); `path`
    /// only names it in errors.
    /// `hold` is told each object's name before the store is asked
    /// whether it has it, and before it is stored (see `Engine`'s
    /// garbage collection).
    pub fn put_file(
        &self,
        file: &mut File,
        path: &Path,
        hold: &dyn Fn(&str),
    ) -> Result<(String, u64), RestoreError> {
        let (hash, len) = hash_file(file, path)?;
        hold(&hash);
        if self.has(&hash) {
            return Ok((hash, len));
        }
        // Compress while hashing again: if the file changed since the first
        // pass, the object is named after what was actually stored.
        file.seek(SeekFrom::Start(0)).ctx("read", path)?;
        let mut reader = HashingReader { inner: file, hasher: blake3::Hasher::new(), len: 0 };
        let tmp = self.compress(&mut reader, path)?;
        let hash = reader.hasher.finalize().to_hex().to_string();
        hold(&hash);
        let dest = self.path_of(&hash);
        fs::rename(&tmp, &dest).ctx("store object", &dest)?;
        Ok((hash, reader.len))
    }

    /// Stores an open file's content as content-defined chunks, each
    /// unless stored already. Returns the hash and length of the whole
    /// content read, and the chunks' names in order.
    pub fn put_chunked(
        &self,
        file: &mut File,
        path: &Path,
        hold: &dyn Fn(&str),
    ) -> Result<(String, u64, Vec<String>), RestoreError> {
        file.seek(SeekFrom::Start(0)).ctx("read", path)?;
        let (mut whole, mut len, mut names) = (blake3::Hasher::new(), 0, Vec::new());
        for chunk in fastcdc::v2020::StreamCDC::new(&mut *file, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX) {
            let chunk = chunk.map_err(|e| RestoreError::Io {
                action: "read",
                path: path.to_owned(),
                source: match e {
                    fastcdc::v2020::Error::IoError(e) => e,
                    other => io::Error::other(other.to_string()),
                },
            })?;
            whole.update(&chunk.data);
            len += chunk.data.len() as u64;
            let name = blake3::hash(&chunk.data).to_hex().to_string();
            hold(&name);
            if !self.has(&name) {
                let tmp = self.compress(&mut chunk.data.as_slice(), path)?;
                let dest = self.path_of(&name);
                fs::rename(&tmp, &dest).ctx("store object", &dest)?;
            }
            names.push(name);
        }
        Ok((whole.finalize().to_hex().to_string(), len, names))
    }

    /// Compresses all of `reader` into a new temporary in the store, and
    /// returns it, for the caller to rename to the object's name.
    fn compress(&self, reader: &mut impl Read, path: &Path) -> Result<PathBuf, RestoreError> {
        let tmp = self.dir.join("tmp").join(random_name());
        let out = fsutil::create_private_file(&tmp)?;
        let mut encoder = zstd::stream::Encoder::new(out, LEVEL).ctx("compress", path)?;
        let finished = io::copy(reader, &mut encoder).and_then(|_| encoder.finish());
        if let Err(e) = finished {
            let _ = fs::remove_file(&tmp);
            return Err(e).ctx("store", path);
        }
        Ok(tmp)
    }

    /// Flushes every object written so far to disk.
    pub fn sync(&self) -> Result<(), RestoreError> {
        syncfs(&self.dir)
    }

    /// Writes the content named `hash` into `out` (a new, empty file the
    /// caller created), from its object or, if it was stored in `chunks`,
    /// from those in order, checking every hash and the length as it
    /// goes. Does not flush; on error the caller removes the file. `dest`
    /// names it in errors. If `sparse`, every aligned block of zeros
    /// becomes a hole (skipped with a seek) instead of being written, so
    /// a file that had holes takes about as little space as it did.
    pub fn restore_to(
        &self,
        hash: &str,
        size: u64,
        chunks: Option<&[String]>,
        sparse: bool,
        out: &mut File,
        dest: &Path,
    ) -> Result<(), RestoreError> {
        let whole = [hash.to_owned()];
        let parts = chunks.unwrap_or(&whole);
        let mut content = blake3::Hasher::new();
        let mut buf = vec![0; BUF];
        let mut offset = 0;
        for part in parts {
            if !valid_hash(part) {
                return Err(RestoreError::Corrupt(format!("invalid object name {part:?}")));
            }
            let src = self.path_of(part);
            let object = File::open(&src).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => {
                    RestoreError::Corrupt(format!("object {part} is missing"))
                }
                _ => RestoreError::Io { action: "read", path: src.clone(), source: e },
            })?;
            let decoder = zstd::stream::Decoder::new(object).ctx("decompress", &src)?;
            // One byte more than the rest is enough to know an object is
            // wrong; a damaged one can never make us write more than that.
            let limit = (size - offset.min(size)) + 1;
            let mut reader =
                HashingReader { inner: decoder.take(limit), hasher: blake3::Hasher::new(), len: 0 };
            loop {
                let n = reader
                    .read(&mut buf)
                    .map_err(|e| RestoreError::Corrupt(format!("object {part}: {e}")))?;
                if n == 0 {
                    break;
                }
                content.update(&buf[..n]);
                if sparse {
                    write_sparse(out, offset, &buf[..n]).ctx("write", dest)?;
                } else {
                    out.write_all(&buf[..n]).ctx("write", dest)?;
                }
                offset += n as u64;
            }
            if reader.hasher.finalize().to_hex().as_str() != part {
                return Err(RestoreError::Corrupt(format!(
                    "object {part} does not match its name"
                )));
            }
        }
        if sparse {
            // A hole at the end is made by the length alone.
            out.set_len(offset).ctx("write", dest)?;
        }
        if offset != size || content.finalize().to_hex().as_str() != hash {
            return Err(RestoreError::Corrupt(format!(
                "the stored content of {} does not match its hash",
                dest.display()
            )));
        }
        Ok(())
    }

    /// Checks one object: it decompresses and its content has its name.
    pub fn check(&self, hash: &str) -> Result<(), String> {
        let path = self.path_of(hash);
        let file = File::open(&path).map_err(|e| format!("object {hash}: {e}"))?;
        let decoder =
            zstd::stream::Decoder::new(file).map_err(|e| format!("object {hash}: {e}"))?;
        let mut reader = HashingReader { inner: decoder, hasher: blake3::Hasher::new(), len: 0 };
        io::copy(&mut reader, &mut io::sink())
            .map_err(|e| format!("object {hash} is damaged: {e}"))?;
        if reader.hasher.finalize().to_hex().as_str() != hash {
            return Err(format!("object {hash} does not match its content"));
        }
        Ok(())
    }

    /// Every stored object's hash.
    pub fn list(&self) -> Result<Vec<String>, RestoreError> {
        let mut hashes = Vec::new();
        for shard in fs::read_dir(&self.dir).ctx("list", &self.dir)? {
            let shard = shard.ctx("list", &self.dir)?;
            let name = shard.file_name();
            let Some(prefix) = name.to_str().filter(|n| n.len() == 2) else { continue };
            for object in fs::read_dir(shard.path()).ctx("list", &shard.path())? {
                let object = object.ctx("list", &shard.path())?;
                if let Some(rest) = object.file_name().to_str() {
                    let hash = format!("{prefix}{rest}");
                    if valid_hash(&hash) {
                        hashes.push(hash);
                    }
                }
            }
        }
        hashes.sort();
        Ok(hashes)
    }

    pub fn remove(&self, hash: &str) -> Result<(), RestoreError> {
        fsutil::remove_file_if_present(&self.path_of(hash))
    }

    /// Bytes the objects take on disk.
    pub fn disk_bytes(&self) -> Result<u64, RestoreError> {
        let mut total = 0;
        for hash in self.list()? {
            total += fs::metadata(self.path_of(&hash)).map(|m| m.len()).unwrap_or(0);
        }
        Ok(total)
    }

    /// Removes temporaries a crash left behind.
    pub fn clean_tmp(&self) -> Result<(), RestoreError> {
        let tmp = self.dir.join("tmp");
        for entry in fs::read_dir(&tmp).ctx("list", &tmp)? {
            let entry = entry.ctx("list", &tmp)?;
            fsutil::remove_file_if_present(&entry.path())?;
        }
        Ok(())
    }
}

/// Flushes the whole filesystem holding `path`: one call instead of an
/// fsync per file written.
pub(crate) fn syncfs(path: &Path) -> Result<(), RestoreError> {
    let dir = crate::dirfd::Dir::open_trusted(path).ctx("open", path)?;
    dir.syncfs().ctx("flush filesystem of", path)
}

/// A fresh name for a temporary or a point: unique, not secret.
pub(crate) fn random_name() -> String {
    tether_os::random::unique_hex_id()
}

/// Writes `data`, which belongs at `offset` of `out` (where `out`'s
/// position is), leaving each aligned block of zeros a hole: the runs
/// between are written in one call each, the zero blocks skipped.
fn write_sparse(out: &mut File, offset: u64, data: &[u8]) -> io::Result<()> {
    let mut pending = 0..0;
    let mut at = 0;
    while at < data.len() {
        let to_boundary = (HOLE_BLOCK - (offset + at as u64) % HOLE_BLOCK) as usize;
        let end = (at + to_boundary).min(data.len());
        let block = &data[at..end];
        if block.len() as u64 == HOLE_BLOCK && block.iter().all(|b| *b == 0) {
            out.write_all(&data[pending.clone()])?;
            out.seek(SeekFrom::Current(block.len() as i64))?;
            pending = end..end;
        } else {
            pending.end = end;
        }
        at = end;
    }
    out.write_all(&data[pending])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_content_is_stored_once_and_comes_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(dir.path().join("objects")).unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(&a, &content).unwrap();
        fs::write(&b, &content).unwrap();
        let (ha, la) = store.put_file(&mut File::open(&a).unwrap(), &a, &|_| {}).unwrap();
        let (hb, _) = store.put_file(&mut File::open(&b).unwrap(), &b, &|_| {}).unwrap();
        assert_eq!(ha, hb);
        assert_eq!(la, 300_000);
        assert_eq!(store.list().unwrap(), vec![ha.clone()]);
        assert!(store.disk_bytes().unwrap() < 100_000, "compressed");
        let out = dir.path().join("out");
        store.restore_to(&ha, la, None, false, &mut File::create(&out).unwrap(), &out).unwrap();
        assert_eq!(fs::read(&out).unwrap(), content);
        store.check(&ha).unwrap();
        // A wrong expected size is caught.
        let mut again = File::create(&out).unwrap();
        assert!(matches!(
            store.restore_to(&ha, la - 1, None, false, &mut again, &out),
            Err(RestoreError::Corrupt(_))
        ));
    }

    #[test]
    fn damaged_objects_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(dir.path().join("objects")).unwrap();
        let a = dir.path().join("a");
        fs::write(&a, b"hello world").unwrap();
        let (h, len) = store.put_file(&mut File::open(&a).unwrap(), &a, &|_| {}).unwrap();
        fs::write(store.path_of(&h), b"not zstd").unwrap();
        assert!(store.check(&h).is_err());
        let o = dir.path().join("o");
        assert!(
            store.restore_to(&h, len, None, false, &mut File::create(&o).unwrap(), &o).is_err()
        );
        assert!(matches!(
            store.restore_to(&"0".repeat(64), 1, None, false, &mut File::create(&o).unwrap(), &o),
            Err(RestoreError::Corrupt(_))
        ));
    }

    #[test]
    fn sparse_restores_write_the_same_bytes_at_any_alignment() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(dir.path().join("objects")).unwrap();
        // Zero runs shorter than, equal to and longer than a block, at odd
        // offsets, and a zero tail.
        let mut content = vec![7u8; 100];
        content.extend([0; 5000]);
        content.extend([9; 3]);
        content.extend([0; 4096 * 3 + 17]);
        content.extend([1; 4096]);
        content.extend([0; 9000]);
        let src = dir.path().join("src");
        fs::write(&src, &content).unwrap();
        let (hash, len) = store.put_file(&mut File::open(&src).unwrap(), &src, &|_| {}).unwrap();
        let out = dir.path().join("out");
        store.restore_to(&hash, len, None, true, &mut File::create(&out).unwrap(), &out).unwrap();
        assert!(fs::read(&out).unwrap() == content);
    }
}
