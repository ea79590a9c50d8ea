//! Where Harmony keeps its files on this machine: the platform's data folder + `harmony`
//! (`$XDG_DATA_HOME/harmony`, else `~/.local/share/harmony`, on Linux). The SQLite config, the
//! local secret files, the cached SSO sessions and the downloaded tools all live under it.

use std::path::PathBuf;

/// The Harmony data folder; `None` when no home folder can be found.
pub fn harmony_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "harmony").map(|d| d.data_dir().to_path_buf())
}
