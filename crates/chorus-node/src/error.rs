//! Errors of the node library. Every message says what went wrong and, where
//! the user can do something about it, what to do.

use std::path::PathBuf;

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A file or directory could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done ("cannot read", "cannot create", ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// `chorus init` found keys already present.
    #[error("{0} already exists; refusing to overwrite a key (use another --data-dir to create a new node)")]
    KeyExists(PathBuf),
    /// A key file is not a 32-byte seed.
    #[error("{path} is {len} bytes; a key file holds a 32-byte seed (was it edited or truncated?)")]
    BadKeyFile {
        /// The key file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// A key file can be read by other users.
    #[error("{0} is readable by other users; run `chmod 600` on it (and consider the key compromised)")]
    KeyPermissions(PathBuf),
    /// An encrypted key file was opened with a passphrase that is not its own.
    #[error("the passphrase does not open {0}")]
    WrongPassphrase(PathBuf),
    /// An encrypted key file is needed and no passphrase can be had: no
    /// passphrase file or variable is set and stdin is not a terminal.
    #[error(
        "{0} is encrypted; give its passphrase with CHORUS_PASSPHRASE_FILE=FILE (a file only you can read) or run in a terminal"
    )]
    NoPassphrase(PathBuf),
    /// A file that starts as an age file is not an encrypted key this node
    /// can open (damaged, truncated, or not made by `chorus`).
    #[error("{path} is not a readable encrypted key file: {reason}")]
    BadEncryptedKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A passphrase could not be had from its source, or is not acceptable.
    #[error("{0}")]
    Passphrase(String),
    /// The data directory has not been initialised.
    #[error("no Chorus node in {0}; run `chorus init --name \"Trust name\"` first, or pass --data-dir")]
    NotInitialised(PathBuf),
    /// The configuration file or an environment override is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The installed node attestation cannot be used; the message names the
    /// file, why, and how to renew it.
    #[error("{0}")]
    Attestation(String),
    /// What an observer's node cannot do, or where one cannot be made
    /// (PROTOCOL.md 14.9).
    #[error("{0}")]
    Observer(String),
    /// The node has no coalition configured yet.
    #[error("no coalition genesis at {0}; found or join a coalition with `chorus coalition join FILE`")]
    NoGenesis(PathBuf),
    /// A genesis or draft file is invalid.
    #[error("{path}: {reason}")]
    Genesis {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A founding step cannot be taken.
    #[error("{0}")]
    Founding(String),
    /// A control request got no complete answer from the node: no node is
    /// running, it stopped during the request, this OS user may not use it,
    /// or something else; `failure` says which, the message what to do.
    #[error("{message}")]
    NoAnswer {
        /// Which case it is.
        failure: crate::control::NoAnswer,
        /// The socket path.
        socket: PathBuf,
        /// What happened and what to do.
        message: String,
    },
    /// The node answered a control request with an error.
    #[error("{0}")]
    Remote(String),
    /// The control protocol was violated (a bug or a version mismatch).
    #[error("control protocol error: {0}")]
    Protocol(String),
    /// The store failed to open, create or close. The store's error is the
    /// source, so its own causes (sled's, the OS's) stay in the chain.
    #[error("store: {0}")]
    Store(#[from] chorus_store::StoreError),
    /// The network could not start or refused a request. The network's
    /// error is the source.
    #[error("network: {0}")]
    Net(#[from] chorus_net::NetError),
    /// A blocking task (opening or closing the store) panicked or was
    /// cancelled before it finished: a bug, not a state of the disk.
    #[error("internal error: the task that {what} did not finish: {source}")]
    TaskFailed {
        /// What the task was doing ("opens the store", ...).
        what: &'static str,
        /// The runtime's reason.
        source: tokio::task::JoinError,
    },
}

impl NodeError {
    /// An I/O error on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        NodeError::Io { action, path: path.into(), source }
    }
}

/// Result with [`NodeError`].
pub type Result<T, E = NodeError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn store_and_network_errors_are_kept_as_the_source() {
        let e = NodeError::from(chorus_store::StoreError::Locked("/srv/chorus/store".into()));
        assert!(e.to_string().starts_with("store: store at /srv/chorus/store is in use"), "{e}");
        assert!(e.source().and_then(|s| s.downcast_ref::<chorus_store::StoreError>()).is_some());

        let e = NodeError::from(chorus_net::NetError::Stopped);
        assert!(e.to_string().starts_with("network: the network task is not running"), "{e}");
        assert!(e.source().and_then(|s| s.downcast_ref::<chorus_net::NetError>()).is_some());
    }
}
