//! [`FileCache`]: the open `.log` files of a log directory, at most `capacity` of them, least
//! recently used closed first.
//!
//! Kafka keeps every segment of every partition open and asks for a high `ulimit -n`; a broker
//! on a laptop (macOS defaults to 256, many Linux desktops to 1024) runs out of descriptors at a
//! few hundred partitions. Here a segment holds no descriptor of its own: it asks the cache for
//! its file whenever it reads or writes, and the cache opens it on a miss and closes the least
//! recently used one when it is full. A handle handed out is an `Arc<File>`, so closing means
//! dropping the cache's reference: a fetch still sending from an evicted file keeps it open until
//! it is done, and the file is closed then.
//!
//! Thread safety: one mutex over the map, held only for the lookup and bookkeeping (opening a
//! file happens outside it).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Open files by owner id, bounded. See the module documentation.
#[derive(Debug)]
pub struct FileCache {
    /// Most files kept open at once.
    capacity: usize,
    /// The open files and their recency.
    inner: Mutex<Lru>,
    /// Source of owner ids.
    next_id: AtomicU64,
    /// Files opened on a miss since start (diagnostics and tests).
    opens: AtomicU64,
}

#[derive(Debug, Default)]
struct Lru {
    /// id -> (file, last use tick).
    files: HashMap<u64, (Arc<File>, u64)>,
    /// last use tick -> id, oldest first.
    by_use: BTreeMap<u64, u64>,
    /// Bumped on every use.
    tick: u64,
}

impl Lru {
    fn touch(&mut self, id: u64) -> Option<Arc<File>> {
        self.tick += 1;
        let tick = self.tick;
        let (file, last) = self.files.get_mut(&id)?;
        self.by_use.remove(last);
        *last = tick;
        self.by_use.insert(tick, id);
        Some(Arc::clone(file))
    }

    fn insert(&mut self, id: u64, file: Arc<File>, capacity: usize) {
        self.tick += 1;
        if let Some((_, last)) = self.files.insert(id, (file, self.tick)) {
            self.by_use.remove(&last);
        }
        self.by_use.insert(self.tick, id);
        while self.files.len() > capacity {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            self.files.remove(&oldest);
        }
    }

    fn remove(&mut self, id: u64) {
        if let Some((_, last)) = self.files.remove(&id) {
            self.by_use.remove(&last);
        }
    }
}

impl FileCache {
    /// A cache keeping at most `capacity` files open (at least 1).
    pub fn new(capacity: usize) -> Arc<FileCache> {
        Arc::new(FileCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Lru::default()),
            next_id: AtomicU64::new(1),
            opens: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Lru> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new owner id (one per segment).
    pub fn register(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The file of owner `id`, opened with `open` if it is not open now.
    pub fn get(&self, id: u64, open: impl FnOnce() -> io::Result<File>) -> io::Result<Arc<File>> {
        if let Some(f) = self.lock().touch(id) {
            return Ok(f);
        }
        let file = Arc::new(open()?);
        self.opens.fetch_add(1, Ordering::Relaxed);
        let mut lru = self.lock();
        // Another thread may have opened it meanwhile; keep one.
        if let Some(f) = lru.touch(id) {
            return Ok(f);
        }
        lru.insert(id, Arc::clone(&file), self.capacity);
        Ok(file)
    }

    /// Adopts a file just created by owner `id`.
    pub fn put(&self, id: u64, file: File) -> Arc<File> {
        let file = Arc::new(file);
        self.lock().insert(id, Arc::clone(&file), self.capacity);
        file
    }

    /// Closes owner `id`'s file (its segment is gone); handles already handed out stay valid.
    pub fn forget(&self, id: u64) {
        self.lock().remove(id);
    }

    /// Files the cache holds open now.
    pub fn open_files(&self) -> usize {
        self.lock().files.len()
    }

    /// The most files it holds open.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Files opened on a miss since start.
    pub fn opens(&self) -> u64 {
        self.opens.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_is_closed_first_and_handles_outlive_eviction() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(2);
        let ids: Vec<u64> = (0..3).map(|_| cache.register()).collect();
        let open = |i: usize| {
            let p = dir.path().join(format!("f{i}"));
            move || {
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .read(true)
                    .write(true)
                    .open(p)
            }
        };
        let a = cache.get(ids[0], open(0)).unwrap();
        cache.get(ids[1], open(1)).unwrap();
        cache.get(ids[0], open(0)).unwrap(); // 0 is now newer than 1
        cache.get(ids[2], open(2)).unwrap(); // evicts 1
        assert_eq!(cache.open_files(), 2);
        assert_eq!(cache.opens(), 3);
        cache.get(ids[0], open(0)).unwrap();
        assert_eq!(cache.opens(), 3, "0 stayed open");
        cache.get(ids[1], open(1)).unwrap();
        assert_eq!(cache.opens(), 4, "1 was reopened");
        // `a` is still a usable handle whatever the cache did.
        use std::os::unix::fs::FileExt;
        a.write_all_at(b"x", 0).unwrap();
        cache.forget(ids[0]);
        assert_eq!(cache.open_files(), 1);
        assert!(cache
            .get(ids[0], || Err(io::Error::from_raw_os_error(24)))
            .is_err());
    }
}
