//! Watching the inputs of the facts, so the agent reports a change at once
//! instead of at its next interval.
//!
//! A raw notify stream is a poor signal for that: one `fs::write` gives
//! several events, an atomic save (temp file, then rename over) kills an
//! inotify watch on the file itself, and a file that does not exist yet cannot
//! be watched at all. So a [`Watch`]:
//!
//! - watches *directories* only, non-recursively: the parent of each watched
//!   file, each watched directory itself, and for a missing path the nearest
//!   existing ancestor (capped at `/`), moving the watch down as the missing
//!   directories appear and back up when they are removed;
//! - debounces with notify-debouncer-full;
//! - treats every event as "re-check these paths": it recomputes the
//!   [`fingerprint`] of the watched paths an event concerns and reports a path
//!   only when its fingerprint differs from the last one seen. Events for
//!   unwatched siblings in a watched directory are ignored, and so are reads
//!   (the watcher's own reads of the files open them).
//!
//! inotify can still miss changes (queue overflow, network filesystems,
//! changes while the agent was down), so the agent also calls
//! [`Watch::rescan`] periodically. A change is reported once, by whichever of
//! the two sees it first.
//!
//! Symlinks are followed one way: the watch covers both the directory holding
//! the link and the directory of its final target, so that rewriting
//! `/run/systemd/resolve/stub-resolv.conf` is noticed through a watched
//! `/etc/resolv.conf`. A symlink in the middle of the path that is re-pointed
//! later is only caught by [`Watch::rescan`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, UNIX_EPOCH};

use khien_proto::report::sha256_hex;
use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, DebouncedEvent, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc::UnboundedSender;

/// Debounce timeout for production: long enough to merge the events of one
/// save (editors write, fsync, rename, chmod), short enough to feel immediate.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(500);

/// The debouncer's thread sleeps a quarter of the timeout between ticks; a
/// zero timeout would make it spin.
const MIN_DEBOUNCE: Duration = Duration::from_millis(10);

/// Fingerprint of a path that does not exist.
pub const ABSENT: &str = "absent";

/// How often [`Watch::start`] recomputes the directories to watch when one of
/// them vanished between choosing it and watching it.
const START_ATTEMPTS: usize = 3;

type NotifyDebouncer = Debouncer<notify::RecommendedWatcher, RecommendedCache>;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {}: the path is not absolute", path.display())]
    NotAbsolute { path: PathBuf },
    /// Creating the watcher failed, on Linux usually the per-user limit of
    /// inotify instances (`fs.inotify.max_user_instances`).
    #[error("cannot start the file watcher for {}: {source}", list(paths))]
    Start {
        paths: Vec<PathBuf>,
        #[source]
        source: notify::Error,
    },
    /// Watching a directory failed, on Linux usually the per-user limit of
    /// inotify watches (`fs.inotify.max_user_watches`).
    #[error("cannot watch {} (the directory of {}): {source}", dir.display(), path.display())]
    Watch {
        path: PathBuf,
        dir: PathBuf,
        #[source]
        source: notify::Error,
    },
}

fn list(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}

/// Watches a set of paths and reports the ones whose content changed.
///
/// Dropping it stops watching; the notify threads exit within one debouncer
/// tick, and then the sender given to [`Watch::start`] is dropped.
pub struct Watch {
    shared: Arc<Shared>,
}

/// What the debouncer's callback and [`Watch::rescan`] share.
///
/// Lock order: `state`, then `debouncer`. The callback holds only a [`Weak`]
/// reference, so that dropping the [`Watch`] drops the debouncer.
struct Shared {
    state: Mutex<State>,
    /// `None` only while [`Watch::start`] creates it and after drop.
    debouncer: Mutex<Option<NotifyDebouncer>>,
}

struct State {
    targets: Vec<Target>,
    /// Directories with a notify watch now (canonical paths).
    armed: BTreeSet<PathBuf>,
}

struct Target {
    /// As the caller gave it; this is what is reported back.
    given: PathBuf,
    /// Without trailing slash or `.` components.
    path: PathBuf,
    /// The last fingerprint seen.
    last: String,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared.state);
        f.debug_struct("Watch")
            .field("paths", &state.targets.iter().map(|t| &t.given).collect::<Vec<_>>())
            .field("armed", &state.armed)
            .finish()
    }
}

impl Watch {
    /// Starts watching `paths` (absolute). Changes are sent on `changes` as
    /// the list of watched paths whose content fingerprint changed, after
    /// debouncing. Returns the Watch (dropping it stops watching).
    ///
    /// The fingerprints at start are the baseline: nothing is sent for them.
    /// `debounce` below 10 ms is raised to 10 ms. A path given twice is
    /// watched and reported once. An error means the agent should fall back
    /// to its interval.
    pub fn start(paths: &[PathBuf], debounce: Duration, changes: UnboundedSender<Vec<PathBuf>>) -> Result<Watch, WatchError> {
        let mut targets: Vec<Target> = Vec::with_capacity(paths.len());
        for given in paths {
            if !given.is_absolute() {
                return Err(WatchError::NotAbsolute { path: given.clone() });
            }
            let path: PathBuf = given.components().collect();
            if targets.iter().any(|t| t.path == path) {
                continue;
            }
            targets.push(Target {
                given: given.clone(),
                path,
                last: String::new(),
            });
        }

        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                targets,
                armed: BTreeSet::new(),
            }),
            debouncer: Mutex::new(None),
        });
        let weak: Weak<Shared> = Arc::downgrade(&shared);
        let debouncer = new_debouncer(debounce.max(MIN_DEBOUNCE), None, move |result| {
            if let Some(shared) = weak.upgrade() {
                shared.on_events(result, &changes);
            }
        })
        .map_err(|source| WatchError::Start {
            paths: paths.to_vec(),
            source,
        })?;
        *lock(&shared.debouncer) = Some(debouncer);

        {
            let mut state = lock(&shared.state);
            // A directory that vanished between choosing and watching it is
            // not an error: choose again. Any other failure is.
            for attempt in 1..=START_ATTEMPTS {
                let failures = shared.reconcile(&mut state).1;
                let last = attempt == START_ATTEMPTS;
                let fatal = failures
                    .into_iter()
                    .find(|f| last || !matches!(f.source.kind, notify::ErrorKind::PathNotFound));
                if let Some(f) = fatal {
                    return Err(WatchError::Watch {
                        path: f.target,
                        dir: f.dir,
                        source: f.source,
                    });
                }
                if state.armed.len() == desired_dirs(&state.targets).len() {
                    break;
                }
            }
            // The baseline is taken after the watches exist, so a change
            // between the two is either in the baseline or gives an event.
            for target in &mut state.targets {
                target.last = fingerprint(&target.path);
            }
        }
        Ok(Watch { shared })
    }

    /// The fingerprints now, for the periodic full rescan that catches what
    /// inotify missed (overflow, network filesystems, changes while the agent
    /// was down): returns the paths whose fingerprint changed since last seen.
    ///
    /// It also moves the directory watches where they belong now (for
    /// example when a missing directory was created and the event was lost).
    /// The paths returned are not also sent on the channel.
    pub fn rescan(&self) -> Vec<PathBuf> {
        let mut state = lock(&self.shared.state);
        let all: Vec<usize> = (0..state.targets.len()).collect();
        let mut changed = state.recheck(&all);
        changed.extend(self.shared.reconcile(&mut state).0);
        state.given(&changed)
    }
}

impl Drop for Watch {
    /// Stops the debouncer now, even if its callback holds a reference to
    /// the shared state at this moment.
    fn drop(&mut self) {
        let debouncer = lock(&self.shared.debouncer).take();
        drop(debouncer);
    }
}

/// A directory that could not be watched.
struct Failure {
    dir: PathBuf,
    target: PathBuf,
    source: notify::Error,
}

impl Shared {
    /// The debouncer's callback, on notify's thread.
    fn on_events(&self, result: DebounceEventResult, changes: &UnboundedSender<Vec<PathBuf>>) {
        let (events, rescan_all) = match result {
            Ok(events) => {
                let rescan = events.iter().any(|e| e.need_rescan());
                (events, rescan)
            }
            // Errors from notify (a failed read of the inotify queue, a
            // watch that went away) may hide changes: check everything.
            Err(_) => (Vec::new(), true),
        };
        let paths = event_paths(&events);
        if paths.is_empty() && !rescan_all {
            // Only reads: a watched /etc sees many, each file opened.
            return;
        }
        let mut state = lock(&self.state);

        // An event about a watched directory itself (removed, renamed,
        // replaced) may leave the inotify watch on an inode that is no
        // longer at that path: drop it, `reconcile` watches the path again.
        let stale: Vec<PathBuf> = state.armed.iter().filter(|dir| paths.iter().any(|p| p == *dir)).cloned().collect();
        if !stale.is_empty() {
            let mut debouncer = lock(&self.debouncer);
            for dir in stale {
                if let Some(d) = debouncer.as_mut() {
                    // Already gone when notify saw the directory deleted.
                    let _ = d.unwatch(&dir);
                }
                state.armed.remove(&dir);
            }
        }

        let concerned: Vec<usize> = if rescan_all {
            (0..state.targets.len()).collect()
        } else {
            state
                .targets
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    let keys = keys(&t.path);
                    paths.iter().any(|e| keys.iter().any(|k| related(e, k)))
                })
                .map(|(i, _)| i)
                .collect()
        };
        let mut changed = state.recheck(&concerned);
        // Failures are left for the next event or rescan to retry; the
        // periodic rescan covers what is missed meanwhile.
        changed.extend(self.reconcile(&mut state).0);
        if !changed.is_empty() {
            // A closed receiver means the agent is stopping: nothing to do.
            let _ = changes.send(state.given(&changed));
        }
    }

    /// Makes the watched directories those the targets need now: watches the
    /// new ones, unwatches the others. When a directory was newly watched,
    /// all targets are checked again, since a file may have appeared in it
    /// before the watch existed. Returns the indexes of changed targets and
    /// the directories that could not be watched (retried next time).
    fn reconcile(&self, state: &mut State) -> (BTreeSet<usize>, Vec<Failure>) {
        let desired = desired_dirs(&state.targets);
        let mut failures = Vec::new();
        let mut added = false;
        {
            let mut guard = lock(&self.debouncer);
            let Some(debouncer) = guard.as_mut() else {
                return (BTreeSet::new(), failures);
            };
            let stale: Vec<PathBuf> = state.armed.iter().filter(|d| !desired.contains_key(*d)).cloned().collect();
            for dir in stale {
                // An error means notify already dropped the watch (directory deleted).
                let _ = debouncer.unwatch(&dir);
                state.armed.remove(&dir);
            }
            for (dir, target) in &desired {
                if state.armed.contains(dir) {
                    continue;
                }
                match debouncer.watch(dir, RecursiveMode::NonRecursive) {
                    Ok(()) => {
                        state.armed.insert(dir.clone());
                        added = true;
                    }
                    Err(source) => failures.push(Failure {
                        dir: dir.clone(),
                        target: target.clone(),
                        source,
                    }),
                }
            }
        }
        let changed = if added {
            let all: Vec<usize> = (0..state.targets.len()).collect();
            state.recheck(&all)
        } else {
            BTreeSet::new()
        };
        (changed, failures)
    }
}

impl State {
    /// Fingerprints the targets at `indexes`, records them, and returns the
    /// indexes whose fingerprint changed.
    fn recheck(&mut self, indexes: &[usize]) -> BTreeSet<usize> {
        let mut changed = BTreeSet::new();
        for &i in indexes {
            if let Some(target) = self.targets.get_mut(i) {
                let now = fingerprint(&target.path);
                if now != target.last {
                    target.last = now;
                    changed.insert(i);
                }
            }
        }
        changed
    }

    /// The paths as the caller gave them, in the caller's order.
    fn given(&self, indexes: &BTreeSet<usize>) -> Vec<PathBuf> {
        indexes
            .iter()
            .filter_map(|&i| self.targets.get(i))
            .map(|t| t.given.clone())
            .collect()
    }
}

/// The paths of the events that may change content; reads are left out,
/// since fingerprinting a file opens it and would otherwise trigger itself.
fn event_paths(events: &[DebouncedEvent]) -> Vec<PathBuf> {
    events
        .iter()
        .filter(|e| match e.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
            EventKind::Access(_) => false,
            _ => true,
        })
        .flat_map(|e| e.paths.iter().cloned())
        .collect()
}

/// Whether an event on `event` may change the fingerprint of `key`: the path
/// itself, an entry of it (for a directory), or one of its ancestors
/// (created, removed or renamed).
fn related(event: &Path, key: &Path) -> bool {
    event == key || event.parent() == Some(key) || key.starts_with(event)
}

/// The real locations of a watched path, as notify will name them in events
/// (the watched directories are canonical): where its directory entry is,
/// and where its final target is when it is a symlink.
fn keys(path: &Path) -> Vec<PathBuf> {
    let entry = match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => resolve_existing_prefix(parent).join(name),
        _ => resolve_existing_prefix(path),
    };
    let mut keys = vec![entry];
    if let Ok(target) = fs::canonicalize(path)
        && !keys.contains(&target)
    {
        keys.push(target);
    }
    keys
}

/// `path` with symlinks resolved in its longest existing prefix; the missing
/// rest is appended as is.
fn resolve_existing_prefix(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut current = path;
    loop {
        if let Ok(real) = fs::canonicalize(current) {
            let mut out = real;
            out.extend(rest.iter().rev());
            return out;
        }
        match (current.parent(), current.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                current = parent;
            }
            // `..` or the root: give up resolving.
            _ => return path.to_path_buf(),
        }
    }
}

/// The directory to watch for one key: the key itself when it is a real
/// directory, else the nearest existing directory above it.
fn watched_dir(key: &Path) -> PathBuf {
    if fs::symlink_metadata(key).is_ok_and(|m| m.is_dir()) {
        return key.to_path_buf();
    }
    let mut dir = key.parent();
    while let Some(d) = dir {
        if fs::metadata(d).is_ok_and(|m| m.is_dir()) {
            return d.to_path_buf();
        }
        dir = d.parent();
    }
    PathBuf::from("/")
}

/// Every directory the targets need watched now, each with the first target
/// that needs it.
fn desired_dirs(targets: &[Target]) -> BTreeMap<PathBuf, PathBuf> {
    let mut dirs = BTreeMap::new();
    for target in targets {
        for key in keys(&target.path) {
            dirs.entry(watched_dir(&key)).or_insert_with(|| target.given.clone());
        }
    }
    dirs
}

/// The fingerprint of one path (pub for tests and for the agent's own bookkeeping).
///
/// - a regular file (symlinks followed): the SHA-256 hex of its bytes, as
///   [`sha256_hex`] gives it;
/// - a directory: `dir:` and the SHA-256 over its entries' names, types,
///   sizes and modification times, sorted by name (entry contents are not
///   read: the ClamAV database folder holds hundreds of megabytes);
/// - missing (or a path through a non-directory): [`ABSENT`];
/// - something else (FIFO, socket, device): `special:` and its type, never
///   read, since opening a FIFO blocks;
/// - unreadable: `unreadable:` and the kind of error, so that a permission
///   change is a change.
pub fn fingerprint(path: &Path) -> String {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if is_absent(&e) => return ABSENT.to_string(),
        Err(e) => return format!("unreadable: {}", e.kind()),
    };
    if meta.is_dir() {
        return dir_fingerprint(path);
    }
    if !meta.is_file() {
        return format!("special: {}", type_letter(&meta.file_type()));
    }
    match fs::read(path) {
        Ok(bytes) => sha256_hex(&bytes),
        Err(e) if is_absent(&e) => ABSENT.to_string(),
        Err(e) => format!("unreadable: {}", e.kind()),
    }
}

fn is_absent(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

fn dir_fingerprint(path: &Path) -> String {
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if is_absent(&e) => return ABSENT.to_string(),
        Err(e) => return format!("unreadable: {}", e.kind()),
    };
    let mut records: Vec<(Vec<u8>, String)> = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else {
            // A read error in the middle of the listing: keep the fact.
            records.push((Vec::new(), "listing error".to_string()));
            continue;
        };
        let name = entry.file_name().as_encoded_bytes().to_vec();
        // `DirEntry::metadata` does not follow symlinks: a link is described
        // by itself, a re-pointed link changes its mtime.
        let record = match entry.metadata() {
            Ok(m) => format!("{} {} {}", type_letter(&m.file_type()), m.len(), mtime(&m)),
            Err(_) => "gone".to_string(),
        };
        records.push((name, record));
    }
    records.sort();
    let mut buf = Vec::new();
    for (name, record) in records {
        // Names cannot contain NUL, records contain no newline: unambiguous.
        buf.extend_from_slice(&name);
        buf.push(0);
        buf.extend_from_slice(record.as_bytes());
        buf.push(b'\n');
    }
    format!("dir:{}", sha256_hex(&buf))
}

fn type_letter(t: &fs::FileType) -> &'static str {
    if t.is_dir() {
        "d"
    } else if t.is_file() {
        "f"
    } else if t.is_symlink() {
        "l"
    } else {
        "o"
    }
}

/// Modification time as `seconds.nanoseconds` since the epoch, `?` when the
/// filesystem has none.
fn mtime(meta: &fs::Metadata) -> String {
    match meta.modified() {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => format!("{}.{:09}", d.as_secs(), d.subsec_nanos()),
            Err(e) => {
                let d = e.duration();
                format!("-{}.{:09}", d.as_secs(), d.subsec_nanos())
            }
        },
        Err(_) => "?".to_string(),
    }
}

/// Locks a mutex, recovering from poisoning: the state stays consistent (a
/// fingerprint is replaced whole), and the watcher must never panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

    const DEBOUNCE: Duration = Duration::from_millis(200);
    /// How long a test waits for a notification that must come.
    const WAIT: Duration = Duration::from_secs(3);
    /// How long a test waits to be sure that no notification comes: the
    /// debounce timeout plus several ticks.
    const QUIET: Duration = Duration::from_millis(800);

    fn start(paths: &[PathBuf]) -> (Watch, UnboundedReceiver<Vec<PathBuf>>) {
        let (tx, rx) = unbounded_channel();
        let watch = Watch::start(paths, DEBOUNCE, tx).unwrap();
        (watch, rx)
    }

    async fn next(rx: &mut UnboundedReceiver<Vec<PathBuf>>) -> Vec<PathBuf> {
        match tokio::time::timeout(WAIT, rx.recv()).await {
            Ok(Some(paths)) => paths,
            Ok(None) => panic!("the watcher stopped"),
            Err(_) => panic!("no change notification within {WAIT:?}"),
        }
    }

    async fn assert_quiet(rx: &mut UnboundedReceiver<Vec<PathBuf>>) {
        if let Ok(got) = tokio::time::timeout(QUIET, rx.recv()).await {
            panic!("unexpected notification: {got:?}");
        }
    }

    /// Writes `content` to a temp file beside `path` and renames it over, as
    /// editors and package managers do.
    fn atomic_save(path: &Path, content: &str) {
        let tmp = path.with_extension("tmp-save");
        fs::write(&tmp, content).unwrap();
        fs::rename(&tmp, path).unwrap();
    }

    #[test]
    fn watch_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Watch>();
    }

    #[tokio::test]
    async fn in_place_write_gives_one_notification_and_same_content_none() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("clamd.conf");
        fs::write(&conf, "LogTime yes\n").unwrap();
        let (_watch, mut rx) = start(std::slice::from_ref(&conf));

        fs::write(&conf, "LogTime no\n").unwrap();
        assert_eq!(next(&mut rx).await, vec![conf.clone()]);
        assert_quiet(&mut rx).await;

        fs::write(&conf, "LogTime no\n").unwrap();
        assert_quiet(&mut rx).await;
    }

    #[tokio::test]
    async fn atomic_saves_are_noticed_again_and_again() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("freshclam.conf");
        fs::write(&conf, "Checks 12\n").unwrap();
        let (_watch, mut rx) = start(std::slice::from_ref(&conf));

        atomic_save(&conf, "Checks 24\n");
        assert_eq!(next(&mut rx).await, vec![conf.clone()]);
        atomic_save(&conf, "Checks 1\n");
        assert_eq!(next(&mut rx).await, vec![conf.clone()]);
        assert_quiet(&mut rx).await;
    }

    #[tokio::test]
    async fn unwatched_siblings_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let watched = dir.path().join("resolv.conf");
        fs::write(&watched, "nameserver 10.0.0.1\n").unwrap();
        let (_watch, mut rx) = start(std::slice::from_ref(&watched));

        fs::write(dir.path().join("hosts"), "127.0.0.1 localhost\n").unwrap();
        atomic_save(&dir.path().join("passwd"), "root:x:0:0::/root:/bin/sh\n");
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::remove_file(dir.path().join("hosts")).unwrap();
        assert_quiet(&mut rx).await;

        // The watch still works after the noise.
        fs::write(&watched, "nameserver 10.0.0.2\n").unwrap();
        assert_eq!(next(&mut rx).await, vec![watched]);
    }

    #[tokio::test]
    async fn a_missing_file_and_its_missing_directories_are_noticed_when_created() {
        let dir = tempfile::tempdir().unwrap();
        let conf_dir = dir.path().join("etc/clamav");
        let conf = conf_dir.join("clamd.conf");
        let (watch, mut rx) = start(std::slice::from_ref(&conf));

        fs::create_dir_all(&conf_dir).unwrap();
        fs::write(&conf, "LocalSocket /run/clamav/clamd.ctl\n").unwrap();
        assert_eq!(next(&mut rx).await, vec![conf.clone()]);

        // The watch moved down to the new directory and keeps working.
        assert!(lock(&watch.shared.state).armed.contains(&fs::canonicalize(&conf_dir).unwrap()));
        fs::write(&conf, "LocalSocket /tmp/clamd.ctl\n").unwrap();
        assert_eq!(next(&mut rx).await, vec![conf.clone()]);
    }

    #[tokio::test]
    async fn a_removed_and_recreated_directory_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let conf_dir = dir.path().join("clamav");
        let conf = conf_dir.join("clamd.conf");
        fs::create_dir(&conf_dir).unwrap();
        fs::write(&conf, "a\n").unwrap();
        let (_watch, mut rx) = start(std::slice::from_ref(&conf));

        // apt purge, then install again.
        fs::remove_dir_all(&conf_dir).unwrap();
        assert_eq!(next(&mut rx).await, vec![conf.clone()]);
        fs::create_dir(&conf_dir).unwrap();
        fs::write(&conf, "b\n").unwrap();
        assert_eq!(next(&mut rx).await, vec![conf.clone()]);
        fs::write(&conf, "c\n").unwrap();
        assert_eq!(next(&mut rx).await, vec![conf]);
    }

    #[tokio::test]
    async fn a_watched_directory_notices_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("clamav-db");
        fs::create_dir(&db).unwrap();
        fs::write(db.join("main.cvd"), "main").unwrap();
        let (_watch, mut rx) = start(std::slice::from_ref(&db));

        fs::write(db.join("daily.cld"), "daily").unwrap();
        assert_eq!(next(&mut rx).await, vec![db.clone()]);
        assert_quiet(&mut rx).await;
    }

    #[tokio::test]
    async fn a_symlinked_file_notices_its_target_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let etc = dir.path().join("etc");
        fs::create_dir(&run).unwrap();
        fs::create_dir(&etc).unwrap();
        let stub = run.join("stub-resolv.conf");
        fs::write(&stub, "nameserver 127.0.0.53\n").unwrap();
        let link = etc.join("resolv.conf");
        std::os::unix::fs::symlink(&stub, &link).unwrap();
        let (_watch, mut rx) = start(std::slice::from_ref(&link));

        atomic_save(&stub, "nameserver 1.1.1.1\n");
        assert_eq!(next(&mut rx).await, vec![link.clone()]);
    }

    #[tokio::test]
    async fn rescan_reports_a_change_once() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("os-release");
        let other = dir.path().join("ufw.conf");
        fs::write(&conf, "ID=debian\n").unwrap();
        fs::write(&other, "ENABLED=yes\n").unwrap();
        // A long debounce, so that the rescan surely comes first even on a
        // loaded machine.
        let (tx, mut rx) = unbounded_channel();
        let watch = Watch::start(&[conf.clone(), other.clone()], Duration::from_secs(1), tx).unwrap();
        assert!(watch.rescan().is_empty());

        // Before the debouncer fires: the rescan sees it first, and the
        // debounced events then find nothing new to report.
        fs::write(&conf, "ID=ubuntu\n").unwrap();
        assert_eq!(watch.rescan(), vec![conf.clone()]);
        assert!(watch.rescan().is_empty());
        if let Ok(got) = tokio::time::timeout(Duration::from_millis(1800), rx.recv()).await {
            panic!("reported twice: {got:?}");
        }
    }

    #[tokio::test]
    async fn dropping_the_watch_stops_it() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("clamd.conf");
        fs::write(&conf, "a\n").unwrap();
        let (watch, mut rx) = start(std::slice::from_ref(&conf));
        drop(watch);
        fs::write(&conf, "b\n").unwrap();
        // The sender is dropped with the debouncer's thread.
        assert_eq!(tokio::time::timeout(WAIT, rx.recv()).await, Ok(None));
    }

    #[test]
    fn relative_paths_are_refused_with_the_path() {
        let (tx, _rx) = unbounded_channel();
        let err = Watch::start(&[PathBuf::from("etc/clamav")], DEBOUNCE, tx).unwrap_err();
        assert!(matches!(err, WatchError::NotAbsolute { .. }));
        assert!(err.to_string().contains("etc/clamav"), "{err}");
    }

    #[test]
    fn fingerprints() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        assert_eq!(fingerprint(&missing), ABSENT);
        assert_eq!(fingerprint(&missing), fingerprint(&missing));
        // A path through a file is absent too, not an error.
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        assert_eq!(fingerprint(&file.join("child")), ABSENT);

        assert_eq!(fingerprint(&file), sha256_hex(b""));
        assert_ne!(fingerprint(&file), fingerprint(&missing));
        fs::write(&file, "x").unwrap();
        assert_eq!(fingerprint(&file), sha256_hex(b"x"));

        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let empty = fingerprint(&sub);
        assert!(empty.starts_with("dir:"), "{empty}");
        assert_ne!(empty, fingerprint(&missing));
        assert_eq!(empty, fingerprint(&sub));
        fs::write(sub.join("a"), "1").unwrap();
        let one = fingerprint(&sub);
        assert_ne!(one, empty);
        fs::write(sub.join("a"), "12").unwrap();
        assert_ne!(fingerprint(&sub), one, "a size change is a change");
    }
}
