//! Saving an edited config file next to a backup of what it held, without ever leaving a
//! half-written file, widening who may read it, or writing through a planted symlink.
//!
//! The config holds the Slack token and header credentials, usually in a 0600 file. Both
//! files are written to a temporary file in the same directory (created 0600), given the
//! original's permissions, synced, and renamed into place: a crash leaves the old file or
//! the new one, and a rename replaces a symlink at the backup's path instead of writing to
//! wherever it points. A config path that is itself a symlink is the user's choice and is
//! followed to the file it names, whose directory gets the temporary files.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why the file could not be saved.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct SaveError {
    /// The file that could not be written.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// Writes `old` to `<file>.bak` and then `new` to the config file at `path`, each
/// atomically and with the config's permissions. Returns the backup's path.
///
/// # Errors
/// When either file cannot be written; the config is untouched if the backup failed.
pub fn save_with_backup(path: &Path, old: &str, new: &str) -> Result<PathBuf, SaveError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SaveError { path, source }
    };
    let real = std::fs::canonicalize(path).map_err(err(path))?;
    let permissions = std::fs::metadata(&real).map_err(err(&real))?.permissions();
    let mut backup = real.clone().into_os_string();
    backup.push(".bak");
    let backup = PathBuf::from(backup);
    replace(&backup, old, &permissions).map_err(err(&backup))?;
    replace(&real, new, &permissions).map_err(err(&real))?;
    Ok(backup)
}

/// Replaces `path` (a file, a symlink or nothing) by a regular file holding `text`.
fn replace(path: &Path, text: &str, permissions: &std::fs::Permissions) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".herald-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.as_file().set_permissions(permissions.clone())?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::{PermissionsExt as _, symlink};

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn the_backup_keeps_the_mode_and_a_planted_symlink_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("herald.yaml");
        std::fs::write(&config, "slack-token: xoxb-secret\n").expect("write");
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        // Someone planted a link where the backup goes, to a file they can read.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "untouched").expect("write");
        symlink(&victim, dir.path().join("herald.yaml.bak")).expect("symlink");

        let backup =
            save_with_backup(&config, "slack-token: xoxb-secret\n", "new: 1\n").expect("saved");
        assert_eq!(backup, dir.path().join("herald.yaml.bak"));
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "untouched");
        assert!(
            !std::fs::symlink_metadata(&backup)
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        assert_eq!(mode(&backup), 0o600);
        assert_eq!(mode(&config), 0o600);
        assert_eq!(std::fs::read_to_string(&config).expect("read"), "new: 1\n");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "temporary files left behind");
    }

    #[test]
    fn a_config_reached_through_a_symlink_is_written_where_it_lives() {
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("real.yaml");
        std::fs::write(&real, "a: 1\n").expect("write");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let link = dir.path().join("herald.yaml");
        symlink(&real, &link).expect("symlink");
        save_with_backup(&link, "a: 1\n", "a: 2\n").expect("saved");
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).expect("read"), "a: 2\n");
        assert_eq!(mode(&real), 0o640);
        assert_eq!(mode(&dir.path().join("real.yaml.bak")), 0o640);
    }
}

/// What [`write_filters`] wrote.
#[derive(Debug)]
pub struct Written {
    /// The config re-read from the written file.
    pub config: super::Config,
    /// The keys written: those asked for, and any other filter of the webhook that was
    /// applied to the running config but not saved.
    pub keys: Vec<&'static str>,
    /// The backup of what the file held.
    pub backup: PathBuf,
}

/// Why filters could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteFiltersError {
    /// The config came from no file.
    #[error("this config has no file to write to")]
    NoFile,
    /// The edit would leave a file that does not load; nothing was written.
    #[error("the edited file would not load: {0}")]
    WouldNotLoad(String),
    /// Reading, editing or writing the file failed.
    #[error("{0}")]
    File(String),
}

/// Writes filters of webhook `index` into the file `running` was loaded from (comments and
/// layout kept, a backup beside it), and returns the config re-read from it. A filter of the
/// same webhook that `running` has applied but the file lacks is written too: re-reading
/// the file must never silently undo an edit. Nothing is written when the result would
/// not load.
///
/// # Errors
/// [`WriteFiltersError`], saying what could not be read, edited, checked or written.
pub fn write_filters(
    running: &super::Config,
    opts: &super::LoadOptions,
    index: usize,
    values: &[(&'static str, &str)],
) -> Result<Written, WriteFiltersError> {
    let path = running.path.clone().ok_or(WriteFiltersError::NoFile)?;
    let name = path.display().to_string();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| WriteFiltersError::File(format!("cannot read {name}: {e}")))?;
    let pattern = |c: &super::Config, s: crate::event::Subject| {
        c.webhooks
            .get(index)
            .map(|w| w.filter(s).pattern().to_string())
    };
    let in_file = super::load_str(&text, &name, opts).ok().map(|(c, _)| c);
    let mut writes: Vec<(&'static str, String)> =
        values.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
    for subject in crate::event::Subject::ALL {
        let key = subject.key();
        if writes.iter().any(|(k, _)| *k == key) {
            continue;
        }
        if let Some(applied) = pattern(running, subject)
            && in_file.as_ref().and_then(|c| pattern(c, subject)) != Some(applied.clone())
        {
            writes.push((key, applied));
        }
    }
    let mut new = text.clone();
    for (key, value) in &writes {
        new = super::set_webhook_value(&new, index, key, value)
            .map_err(|e| WriteFiltersError::File(e.to_string()))?;
    }
    let (mut config, _) = super::load_str(&new, &name, opts)
        .map_err(|r| WriteFiltersError::WouldNotLoad(r.to_string().trim().to_string()))?;
    let backup =
        save_with_backup(&path, &text, &new).map_err(|e| WriteFiltersError::File(e.to_string()))?;
    config.path = Some(path);
    Ok(Written {
        config,
        keys: writes.into_iter().map(|(k, _)| k).collect(),
        backup,
    })
}
