//! Files that hold secrets: created 0600 inside 0700 folders, written atomically.
//!
//! Used by every on-disk store in the workspace (local secret files, config files, the OpenBao
//! session cache, the unseal-key cache) so the permission rules live in one place.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Creates `dir` (and missing parents) with mode 0700.
///
/// A folder that already exists was chosen by someone (e.g. `LocalFileSource::new(".")`), so its
/// mode is left as it is; when group or others can enter it, a warning names it once per process.
/// The secret files written into it are 0600 either way.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                warn_open_folder_once(dir, mode);
            }
            Ok(())
        }
        _ => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir),
    }
}

fn warn_open_folder_once(dir: &Path, mode: u32) {
    static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if warned.iter().any(|d| d == dir) {
        return;
    }
    warned.push(dir.to_path_buf());
    log::warn!(
        "{} holds secret files but is accessible to group/others (mode {mode:o}); the files \
         themselves are 0600. Run `chmod 700 {}` if no one else should list it",
        dir.display(),
        dir.display()
    );
}

/// Writes `bytes` to `path` atomically: a 0600 temporary file in the same folder, fsync, rename.
/// A crash leaves either the old content or the new one, never half a file.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    ensure_private_dir(dir)?;
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let (tmp, mut file) = create_temp_file(dir, &file_name.to_string_lossy())?;
    let result = (|| {
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates a fresh 0600 temporary file next to the target. Every call gets its own name (pid,
/// a process-wide counter, the clock) and `create_new` refuses to reuse an existing file, so two
/// writers of the same path never share a temporary file. Hand-written rather than `tempfile`:
/// this crate is in the lean zero-setup build, where `tempfile` would add crates for ~20 lines.
fn create_temp_file(dir: &Path, file_name: &str) -> io::Result<(PathBuf, fs::File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last_err = None;
    for _ in 0..8 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = dir.join(format!(
            ".{file_name}.tmp-{}-{}-{nanos:08x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
        ));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("cannot create a temporary file")))
}

/// Reads a private file; `Ok(None)` when it does not exist.
pub fn read_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether `name` (a key or namespace) can be one file or folder name inside a store's folder:
/// not empty, not `.` or `..`, and without `/`, `\\` or NUL, so it never reaches outside it.
/// The one rule of every store that keeps a file per key.
pub fn is_plain_file_name(name: &str) -> bool {
    !(name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']))
}

/// What to tell the person when [`is_plain_file_name`] refuses a name.
pub const PLAIN_FILE_NAME_RULE: &str = "use letters, digits, `-`, `_` or `.`";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_stay_inside_the_folder() {
        for good in ["Db", "app.config", "a-b_c", "..x"] {
            assert!(is_plain_file_name(good), "{good}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", "a\0b"] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn new_file_is_0600_in_a_0700_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/secret.json");
        write_private_atomic(&path, b"{}").unwrap();
        let file_mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(file_mode, 0o600);
        assert_eq!(dir_mode, 0o700);
    }

    static LINES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, record: &log::Record) {
            LINES
                .lock()
                .unwrap()
                .push(format!("{} {}", record.level(), record.args()));
        }
        fn flush(&self) {}
    }

    #[test]
    fn existing_open_folder_is_left_as_is_with_a_warning_naming_it() {
        let _ = log::set_logger(&Capture);
        log::set_max_level(log::LevelFilter::Warn);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("open");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        write_private_atomic(&dir.join("k.json"), b"1").unwrap();
        write_private_atomic(&dir.join("k2.json"), b"2").unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o755,
            "a folder the user chose keeps its mode"
        );
        assert_eq!(
            fs::metadata(dir.join("k.json"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        let name = dir.display().to_string();
        let warnings: Vec<String> = LINES
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("WARN") && l.contains(&name))
            .cloned()
            .collect();
        assert_eq!(
            warnings.len(),
            1,
            "warned once, naming the folder: {warnings:?}"
        );
        assert!(warnings[0].contains("755"), "{warnings:?}");
    }

    #[test]
    fn existing_private_folder_gets_no_warning() {
        let _ = log::set_logger(&Capture);
        log::set_max_level(log::LevelFilter::Warn);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("closed");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        write_private_atomic(&dir.join("k.json"), b"1").unwrap();
        let name = dir.display().to_string();
        assert!(!LINES.lock().unwrap().iter().any(|l| l.contains(&name)));
    }

    #[test]
    fn rewrite_replaces_content_and_leaves_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k.json");
        write_private_atomic(&path, b"old").unwrap();
        write_private_atomic(&path, b"new").unwrap();
        assert_eq!(read_if_exists(&path).unwrap().unwrap(), b"new");
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names.len(),
            1,
            "only the file itself should remain: {names:?}"
        );
    }

    #[test]
    fn concurrent_writers_of_one_path_never_mix_content_or_fail() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("shared.json");
        let contents: Vec<Vec<u8>> = (0..16u8)
            .map(|i| vec![b'a' + i; 64 * 1024 + usize::from(i)])
            .collect();
        let barrier = std::sync::Barrier::new(contents.len());
        std::thread::scope(|scope| {
            let handles: Vec<_> = contents
                .iter()
                .map(|content| {
                    let (path, barrier) = (&path, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        for _ in 0..4 {
                            write_private_atomic(path, content)?;
                        }
                        io::Result::Ok(())
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap().expect("every write succeeds");
            }
        });
        let last = read_if_exists(&path).unwrap().unwrap();
        assert!(
            contents.contains(&last),
            "the file must be exactly one writer's content ({} bytes)",
            last.len()
        );
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("shared.json")]);
    }

    #[test]
    fn missing_file_reads_as_none() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(read_if_exists(&tmp.path().join("nope")).unwrap().is_none());
    }
}
