//! Watching the journal's files for what an operator (or a clean-up job) can do to them
//! under a running herald.
//!
//! SQLite keeps writing to a database or write-ahead log that was deleted or replaced
//! (its open descriptors still point at the old inode), so every commit "succeeds" and
//! every event accepted since is gone at the next start. The writer checks the files
//! before each group commit, and refuses the group (the client gets a 503 and sends again)
//! once they are no longer the ones it opened.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// The journal's files as they were opened.
#[derive(Debug, Clone)]
pub struct Files {
    db: PathBuf,
    wal: PathBuf,
    identity: (u64, u64),
}

impl Files {
    /// Notes the identity of the database file at `db` (open, in WAL mode).
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn new(db: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(db)?;
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        Ok(Self {
            db: db.to_path_buf(),
            wal: PathBuf::from(wal),
            identity: (meta.dev(), meta.ino()),
        })
    }

    /// `Err` with what happened when the files are no longer the ones opened.
    pub fn check(&self) -> Result<(), String> {
        let restart =
            "restart herald once the files are back in order; until then nothing is accepted";
        match std::fs::metadata(&self.db) {
            Err(_) => {
                return Err(format!(
                    "the journal file {} was deleted while herald runs; {restart}",
                    self.db.display()
                ));
            }
            Ok(m) if (m.dev(), m.ino()) != self.identity => {
                return Err(format!(
                    "the journal file {} was replaced while herald runs; {restart}",
                    self.db.display()
                ));
            }
            Ok(_) => {}
        }
        if !self.wal.exists() {
            return Err(format!(
                "the journal's write-ahead log {} was deleted while herald runs: what was committed since the last checkpoint is lost; {restart}",
                self.wal.display()
            ));
        }
        Ok(())
    }
}

/// Explains why SQLite could not open or set up the journal at `db` when the cause is the
/// file system ("unable to open database file" says nothing of it): a file or directory
/// herald may not write.
pub fn explain_open_failure(db: &Path) -> Option<String> {
    let dir = db.parent().unwrap_or_else(|| Path::new("."));
    let denied = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
        )
    };
    if db.exists()
        && let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open(db)
        && denied(&e)
    {
        return Some(format!(
            "the journal {} is read-only for this user ({e}): herald must write it; check its owner and mode",
            db.display()
        ));
    }
    match tempfile::tempfile_in(dir) {
        Err(e) if denied(&e) => Some(format!(
            "the data directory {} is read-only for this user ({e}): SQLite writes its log and lock files beside the journal; check its owner and mode, or give another --data-dir",
            dir.display()
        )),
        _ => None,
    }
}
