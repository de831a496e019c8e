//! The data directory: where a node keeps its keys, configuration, genesis,
//! store and control socket, and how it is created.
//!
//! Layout (all owned by the node's user, directory mode 0700):
//! - `trust.key`: the trust's 32-byte ed25519 seed, mode 0600, plain or
//!   encrypted with a passphrase (see [`keyfile`]). Signs
//!   the genesis, proposals, stances, delegations, revocations and key
//!   rotations. Back it up offline.
//! - `trust.id`: the trust's id (hex). Written by `chorus init` in the
//!   offline layout ([`DataDir::init_offline`]), where it stands in for the
//!   absent trust key, and once the trust signs with a key other than the
//!   one it was admitted with (`chorus rotate-key`, `chorus trust-key
//!   install`).
//! - `trust.key.<ms>.old`: a replaced trust key (mode 0600), kept by those
//!   two commands until the operator stores it offline and deletes it.
//! - `node.key`: the node's 32-byte network identity seed, mode 0600,
//!   plain or encrypted like the trust key.
//! - `node.attestation`: optional; the trust's signed statement that
//!   `node.key` speaks for it (`chorus node attest`, run where the trust key
//!   is). When present the node uses it and never reads `trust.key`, which
//!   can then live offline.
//!
//! In the offline layout `chorus init` writes no `trust.key` here: the trust
//! key goes, encrypted, to a separate *offline kit* (itself a data directory
//! holding `trust.key`, `trust.id` and a copy of `config.toml`) that the
//! operator moves to an offline machine and runs every trust-key command on.
//! - `config.toml`: commented configuration ([`crate::config`]).
//! - `genesis.chorus`: the final genesis of the coalition, once joined.
//! - `store/`: the object store.
//! - `control.sock`: the control socket (mode 0600) while the node runs.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chorus_core::{Keypair, PublicKey};

use crate::error::{NodeError, Result};

pub mod keyfile;

/// A node's data directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

/// The platform default data directory: `$CHORUS_DATA_DIR`, else
/// `$XDG_DATA_HOME/chorus`, else `~/.local/share/chorus`, else `./chorus-data`.
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CHORUS_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("chorus");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(h).join(".local/share/chorus");
    }
    PathBuf::from("chorus-data")
}

impl DataDir {
    /// A data directory at `root` (not checked or created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The trust key file.
    pub fn trust_key_path(&self) -> PathBuf {
        self.root.join("trust.key")
    }

    /// The installed node attestation (see the module documentation).
    pub fn node_attestation_path(&self) -> PathBuf {
        self.root.join("node.attestation")
    }

    /// The node (network identity) key file.
    pub fn node_key_path(&self) -> PathBuf {
        self.root.join("node.key")
    }

    /// The configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// Where `chorus coalition join` puts the genesis.
    pub fn genesis_path(&self) -> PathBuf {
        self.root.join("genesis.chorus")
    }

    /// The store directory.
    pub fn store_path(&self) -> PathBuf {
        self.root.join("store")
    }

    /// The control socket.
    pub fn socket_path(&self) -> PathBuf {
        self.root.join("control.sock")
    }

    /// True when `init` has run here (the trust key may be offline, a node
    /// attestation or `trust.id` in its place).
    pub fn is_initialised(&self) -> bool {
        self.credential_path().exists() && self.config_path().exists()
    }

    /// What names the trust here: the installed node attestation, else the
    /// trust key, else (the offline layout, before an attestation is
    /// installed) `trust.id`; an observer's directory has none of them, and
    /// its node key stands in.
    fn credential_path(&self) -> PathBuf {
        [self.node_attestation_path(), self.trust_key_path(), self.trust_id_path()]
            .into_iter()
            .find(|p| p.exists())
            .unwrap_or_else(|| if self.is_observer() { self.node_key_path() } else { self.trust_key_path() })
    }

    /// True when this directory's `config.toml` says `role = "observer"`
    /// (written by [`DataDir::init_observer`]); false when it is absent or
    /// unreadable. The file, not the environment, marks an observer's
    /// directory.
    pub fn is_observer(&self) -> bool {
        read_bounded(&self.config_path(), crate::config::MAX_CONFIG_BYTES)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| crate::config::Config::parse(&t).ok())
            .is_some_and(|c| c.is_observer())
    }

    /// An observer's directory (PROTOCOL.md 14.9): creates this directory
    /// (mode 0700) with a fresh node key, the coalition's final genesis as
    /// `genesis.chorus` and a commented `config.toml` with `role =
    /// "observer"` and `bootstrap` peers; no trust key, `trust.id` or
    /// attestation. Refuses, and then changes nothing, if any key, trust
    /// id, attestation, config or genesis is there already.
    pub fn init_observer(
        &self,
        coalition: &chorus_core::Coalition,
        bootstrap: &[String],
    ) -> Result<ObserverInitReport> {
        let genesis = self.root.join("genesis.chorus");
        for p in [self.trust_key_path(), self.node_key_path(), self.trust_id_path(), self.node_attestation_path()] {
            if p.exists() {
                return Err(NodeError::KeyExists(p));
            }
        }
        for p in [self.config_path(), genesis.clone()] {
            if p.exists() {
                return Err(NodeError::Observer(format!(
                    "{} already exists: this directory holds a node already; use another --data-dir for an observer",
                    p.display()
                )));
            }
        }
        let node = Keypair::generate();
        create_private_dir(&self.root)?;
        write_new_secret(&self.node_key_path(), &node.seed())?;
        write_new(&genesis, coalition.genesis_envelope().bytes(), 0o600)?;
        let text = crate::config::Config::observer_template(bootstrap);
        write_new(&self.config_path(), text.as_bytes(), 0o600)?;
        Ok(ObserverInitReport {
            data_dir: self.root.clone(),
            coalition: coalition.id(),
            coalition_name: coalition.name().to_string(),
            observers: crate::observer::access_name(coalition.charter().observers).into(),
            node_key: node.public().to_hex(),
            config: self.config_path(),
            genesis,
        })
    }

    /// Fails with a hint to run `chorus init` unless this directory holds a
    /// node: its configuration and its trust key, or instead of the key an
    /// installed node attestation or `trust.id` (the offline layout).
    pub fn require_initialised(&self) -> Result<()> {
        for p in [self.credential_path(), self.config_path()] {
            match fs::metadata(&p) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(NodeError::NotInitialised(self.root.clone()))
                }
                Err(e) => return Err(NodeError::io("cannot access", p, e)),
            }
        }
        Ok(())
    }

    /// Creates the directory (mode 0700), fresh trust and node keys (0600,
    /// never overwriting an existing file) and a commented `config.toml` for
    /// a trust called `trust_name`. Refuses if either key already exists, and
    /// then changes nothing. The trust key is written unencrypted here: the
    /// layout for demonstrations and tests; [`DataDir::init_offline`] is the
    /// one for a server.
    pub fn init(&self, trust_name: &str) -> Result<InitReport> {
        crate::config::check_trust_name(trust_name)?;
        for p in [self.trust_key_path(), self.node_key_path()] {
            if p.exists() {
                return Err(NodeError::KeyExists(p));
            }
        }
        create_private_dir(&self.root)?;
        let trust = Keypair::generate();
        let node = Keypair::generate();
        write_new_secret(&self.trust_key_path(), &trust.seed())?;
        write_new_secret(&self.node_key_path(), &node.seed())?;
        let config = self.write_config(trust_name)?;
        Ok(InitReport {
            data_dir: self.root.clone(),
            trust_name: trust_name.to_string(),
            trust_key: trust.public().to_hex(),
            node_key: node.public().to_hex(),
            config,
            trust_key_file: Some(self.trust_key_path()),
            trust_key_encrypted: false,
            offline_kit: None,
            passphrase_from: None,
        })
    }

    /// The offline layout: creates this directory (mode 0700) with a fresh
    /// node key, `trust.id` and a commented `config.toml`, and no trust
    /// key; and the offline kit `kit` (mode 0700), a data directory holding
    /// the fresh trust key encrypted with a new passphrase from
    /// `passphrases` (asked twice at a terminal), `trust.id` and a copy of
    /// the configuration. The passphrase is had, and the key encrypted and
    /// checked to open again, before anything is created; if a key, the
    /// kit's `trust.id` or its `config.toml` exists already, or no
    /// passphrase can be had, nothing is created.
    pub fn init_offline(
        &self,
        trust_name: &str,
        kit: &DataDir,
        passphrases: &keyfile::Passphrases,
    ) -> Result<InitReport> {
        crate::config::check_trust_name(trust_name)?;
        for p in [
            self.trust_key_path(),
            self.node_key_path(),
            self.trust_id_path(),
            kit.trust_key_path(),
            kit.trust_id_path(),
            kit.config_path(),
        ] {
            if p.exists() {
                return Err(NodeError::KeyExists(p));
            }
        }
        if kit.root() == self.root() {
            return Err(NodeError::Config(
                "the offline kit must be another directory than the data directory; choose another --offline-dir"
                    .into(),
            ));
        }
        let (passphrase, source) = passphrases.new_passphrase(&kit.trust_key_path())?;
        let trust = Keypair::generate();
        let sealed = keyfile::encrypt_key(&trust, passphrase)?;
        let node = Keypair::generate();
        let id = format!("{}\n", trust.public());
        create_private_dir(&self.root)?;
        write_new_secret(&self.node_key_path(), &node.seed())?;
        write_new(&self.trust_id_path(), id.as_bytes(), 0o600)?;
        let config = self.write_config(trust_name)?;
        create_private_dir(kit.root())?;
        write_new(&kit.trust_key_path(), &sealed, 0o600)?;
        write_new(&kit.trust_id_path(), id.as_bytes(), 0o600)?;
        let text = read_bounded(&config, crate::config::MAX_CONFIG_BYTES)?;
        write_new(&kit.config_path(), &text, 0o600)?;
        Ok(InitReport {
            data_dir: self.root.clone(),
            trust_name: trust_name.to_string(),
            trust_key: trust.public().to_hex(),
            node_key: node.public().to_hex(),
            config,
            trust_key_file: Some(kit.trust_key_path()),
            trust_key_encrypted: true,
            offline_kit: Some(kit.root().to_path_buf()),
            passphrase_from: Some(source.name().to_string()),
        })
    }

    /// A node for an existing trust, in the offline layout: creates this
    /// directory (mode 0700) with a fresh node key, `trust.id` naming
    /// `trust` and a commented `config.toml`; no trust key. For a server
    /// rebuilt after a compromise, or another node of the same trust. Refuses
    /// if a key or `trust.id` exists, and then changes nothing.
    pub fn init_node(&self, trust_name: &str, trust: PublicKey) -> Result<InitReport> {
        crate::config::check_trust_name(trust_name)?;
        for p in [self.trust_key_path(), self.node_key_path(), self.trust_id_path()] {
            if p.exists() {
                return Err(NodeError::KeyExists(p));
            }
        }
        let node = Keypair::generate();
        create_private_dir(&self.root)?;
        write_new_secret(&self.node_key_path(), &node.seed())?;
        write_new(&self.trust_id_path(), format!("{trust}\n").as_bytes(), 0o600)?;
        let config = self.write_config(trust_name)?;
        Ok(InitReport {
            data_dir: self.root.clone(),
            trust_name: trust_name.to_string(),
            trust_key: trust.to_hex(),
            node_key: node.public().to_hex(),
            config,
            trust_key_file: None,
            trust_key_encrypted: false,
            offline_kit: None,
            passphrase_from: None,
        })
    }

    /// Writes the commented `config.toml` unless one exists; its path.
    fn write_config(&self, trust_name: &str) -> Result<PathBuf> {
        let config = self.config_path();
        if !config.exists() {
            let text = crate::config::Config::template(trust_name);
            write_new(&config, text.as_bytes(), 0o600)?;
        }
        Ok(config)
    }

    /// The trust's signing key.
    /// In the offline layout (no `trust.key`, a `trust.id`) the error says
    /// to run the command on the offline kit; in an observer's directory,
    /// that an observer cannot submit objects.
    pub fn trust_key(&self) -> Result<Keypair> {
        self.require_initialised()?;
        if self.is_observer() {
            return Err(NodeError::Observer(format!("{} (it holds no trust key)", crate::observer::CANNOT_SUBMIT)));
        }
        if !self.trust_key_path().exists() && self.trust_id_path().exists() {
            return Err(NodeError::Attestation(format!(
                "{} holds no trust key (it is kept offline): run commands that sign as the trust on the offline kit \
                 (`chorus --data-dir KIT ...`, with `--out FILE` where the command has it, then `chorus import FILE` here); \
                 a node runs with a node.attestation from `chorus node attest` on the kit",
                self.root.display()
            )));
        }
        read_secret(&self.trust_key_path())
    }

    /// The file naming this trust's id (hex) once its signing key is no
    /// longer its id (after `chorus rotate-key`). Absent before.
    pub fn trust_id_path(&self) -> PathBuf {
        self.root.join("trust.id")
    }

    /// The trust's id: the content of `trust.id` when present (written by
    /// a key rotation), else the public key of `trust.key`.
    pub fn trust_id(&self) -> Result<PublicKey> {
        let path = self.trust_id_path();
        if !path.exists() {
            return Ok(self.trust_key()?.public());
        }
        let bytes = read_bounded(&path, 200)?;
        let text = String::from_utf8_lossy(&bytes);
        crate::founding::parse_key(text.trim())
            .map_err(|e| NodeError::Config(format!("{} does not hold a trust id: {e}", path.display())))
    }

    /// The node's network identity seed.
    pub fn node_key_seed(&self) -> Result<[u8; 32]> {
        read_secret(&self.node_key_path()).map(|k| k.seed())
    }
}

/// What [`DataDir::init_observer`] created.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ObserverInitReport {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The coalition followed.
    pub coalition: chorus_core::ObjectId,
    /// Its name.
    pub coalition_name: String,
    /// The genesis charter's observer access ("positions", "everything",
    /// "none"); an amendment may have changed it since.
    pub observers: String,
    /// The node's public key, hex: its peer id, the only thing it proves.
    pub node_key: String,
    /// The configuration file written.
    pub config: PathBuf,
    /// The genesis file written.
    pub genesis: PathBuf,
}

/// What `init` created.
#[derive(Clone, Debug, serde::Serialize)]
pub struct InitReport {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The trust's display name.
    pub trust_name: String,
    /// The trust's public key, hex: give it to the coalition's founders.
    pub trust_key: String,
    /// The node's public key, hex (what `chorus node attest --node-key` takes).
    pub node_key: String,
    /// The configuration file written.
    pub config: PathBuf,
    /// Where the trust key was written: in the data directory, or in the
    /// offline kit; `None` when none was ([`DataDir::init_node`]).
    pub trust_key_file: Option<PathBuf>,
    /// True when the trust key file is encrypted with a passphrase.
    pub trust_key_encrypted: bool,
    /// The offline kit, in the offline layout.
    pub offline_kit: Option<PathBuf>,
    /// Where the passphrase came from (`file`, `environment`, `terminal`),
    /// in the offline layout.
    pub passphrase_from: Option<String>,
}

/// Creates `dir` and its parents; `dir` itself gets mode 0700, also when
/// it existed already.
fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| NodeError::io("cannot create", dir, e))?;
    // An existing directory keeps its mode from DirBuilder; tighten it.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| NodeError::io("cannot set permissions on", dir, e))
}

/// Writes a new file that must not exist yet, with `mode`, and syncs it.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            NodeError::KeyExists(path.to_path_buf())
        } else {
            NodeError::io("cannot create", path, e)
        }
    })?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| NodeError::io("cannot write", path, e))
}

/// Writes a new key seed file (mode 0600) that must not exist yet.
pub fn write_new_secret(path: &Path, seed: &[u8; 32]) -> Result<()> {
    write_new(path, seed, 0o600)
}

/// Reads a key file, plain or encrypted (its passphrase then from
/// `CHORUS_PASSPHRASE_FILE`, `CHORUS_PASSPHRASE` or the terminal: see
/// [`keyfile`]), refusing files other users can read.
pub fn read_secret(path: &Path) -> Result<Keypair> {
    keyfile::read_key_file(path, &keyfile::Passphrases::from_env()).map(|k| k.keypair)
}

/// Reads at most `limit` bytes of a file; a larger file is an error naming
/// the limit, so no input can exhaust memory.
pub fn read_bounded(path: &Path, limit: usize) -> Result<Vec<u8>> {
    let f = fs::File::open(path).map_err(|e| NodeError::io("cannot read", path, e))?;
    let mut buf = Vec::new();
    f.take(limit as u64 + 1).read_to_end(&mut buf).map_err(|e| NodeError::io("cannot read", path, e))?;
    if buf.len() > limit {
        return Err(NodeError::io(
            "cannot read",
            path,
            std::io::Error::other(format!("file is larger than the limit of {limit} bytes")),
        ));
    }
    Ok(buf)
}

/// Writes a file atomically: a temporary sibling, fsync, rename, fsync of
/// the directory. Readers see the old or the new content, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    write_new(&tmp, bytes, mode).map_err(|e| match e {
        NodeError::KeyExists(p) => NodeError::io("cannot create", p, std::io::ErrorKind::AlreadyExists.into()),
        other => other,
    })?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        NodeError::io("cannot write", path, e)
    })?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_private_files_and_refuses_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::new(tmp.path().join("node"));
        let report = dd.init("Oak Trust").unwrap();
        assert_eq!(report.trust_key, dd.trust_key().unwrap().public().to_hex());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dd.root()), 0o700);
        assert_eq!(mode(&dd.trust_key_path()), 0o600);
        assert_eq!(mode(&dd.node_key_path()), 0o600);
        let before = fs::read(dd.trust_key_path()).unwrap();
        assert!(matches!(dd.init("Oak Trust"), Err(NodeError::KeyExists(_))));
        assert_eq!(fs::read(dd.trust_key_path()).unwrap(), before);
    }

    #[test]
    fn an_observers_directory_has_a_node_key_the_genesis_and_no_trust() {
        let f = chorus_core::testkit::Fixture::new(2);
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::new(tmp.path().join("observer"));
        assert!(!dd.is_observer());
        let peers = vec!["/ip4/127.0.0.1/tcp/7700".to_string()];
        let r = dd.init_observer(&f.coalition, &peers).unwrap();
        assert_eq!((r.coalition, r.observers.as_str()), (f.coalition.id(), "positions"));
        assert!(dd.is_observer() && dd.is_initialised());
        dd.require_initialised().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(dd.root()), mode(&dd.node_key_path())), (0o700, 0o600));
        assert_eq!(Keypair::from_seed(&dd.node_key_seed().unwrap()).public().to_hex(), r.node_key);
        assert_eq!(fs::read(&r.genesis).unwrap(), f.coalition.genesis_envelope().bytes());
        for p in [dd.trust_key_path(), dd.trust_id_path(), dd.node_attestation_path()] {
            assert!(!p.exists(), "{}", p.display());
        }
        let config = crate::config::Config::load(&dd.config_path()).unwrap();
        assert!(config.is_observer());
        assert_eq!(config.bootstrap, peers);
        assert!(dd.trust_key().is_err());
        // Never over an existing node, observer or member.
        let before = fs::read(dd.node_key_path()).unwrap();
        assert!(matches!(dd.init_observer(&f.coalition, &[]), Err(NodeError::KeyExists(_))));
        assert_eq!(fs::read(dd.node_key_path()).unwrap(), before);
        let member = DataDir::new(tmp.path().join("member"));
        member.init("Oak Trust").unwrap();
        assert!(matches!(member.init_observer(&f.coalition, &[]), Err(NodeError::KeyExists(_))));
        assert!(!member.is_observer());
    }

    #[test]
    fn an_installed_attestation_stands_in_for_the_trust_key_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::new(tmp.path().join("node"));
        dd.init("Oak Trust").unwrap();
        fs::remove_file(dd.trust_key_path()).unwrap();
        assert!(!dd.is_initialised());
        assert!(matches!(dd.require_initialised(), Err(NodeError::NotInitialised(_))));
        write_new(&dd.node_attestation_path(), b"attestation", 0o644).unwrap();
        assert!(dd.is_initialised());
        dd.require_initialised().unwrap();
        fs::remove_file(dd.config_path()).unwrap();
        assert!(matches!(dd.require_initialised(), Err(NodeError::NotInitialised(_))));
    }

    #[test]
    fn the_offline_layout_keeps_the_trust_key_encrypted_in_the_kit_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dd = DataDir::new(tmp.path().join("node"));
        let kit = DataDir::new(tmp.path().join("node/offline-trust-key"));
        let r = dd.init_offline("Oak Trust", &kit, &keyfile::Passphrases::variable("kit")).unwrap();
        assert!(!dd.trust_key_path().exists());
        assert!(dd.is_initialised());
        dd.require_initialised().unwrap();
        assert_eq!(dd.trust_id().unwrap().to_hex(), r.trust_key);
        let e = dd.trust_key().unwrap_err();
        assert!(e.to_string().contains("offline kit"), "{e}");
        assert!(keyfile::is_encrypted(&fs::read(kit.trust_key_path()).unwrap()));
        let opened = keyfile::read_key_file(&kit.trust_key_path(), &keyfile::Passphrases::variable("kit")).unwrap();
        assert_eq!(opened.keypair.public().to_hex(), r.trust_key);
        assert_eq!(kit.trust_id().unwrap().to_hex(), r.trust_key);
        assert_eq!(fs::read(kit.config_path()).unwrap(), fs::read(dd.config_path()).unwrap());
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(kit.root()), 0o700);
        assert_eq!(mode(&kit.trust_key_path()), 0o600);
        // Again: refused, nothing changed; without a passphrase: nothing created.
        assert!(matches!(
            dd.init_offline("Oak Trust", &kit, &keyfile::Passphrases::variable("kit")),
            Err(NodeError::KeyExists(_))
        ));
        // Another node for the same trust: no key, no kit.
        let again = DataDir::new(tmp.path().join("rebuilt"));
        let trust = dd.trust_id().unwrap();
        let r2 = again.init_node("Oak Trust", trust).unwrap();
        assert_eq!((again.trust_id().unwrap(), r2.trust_key_file), (trust, None));
        assert_ne!(r2.node_key, r.node_key);
        assert!(!again.trust_key_path().exists() && again.is_initialised());
        assert!(matches!(again.init_node("Oak Trust", trust), Err(NodeError::KeyExists(_))));
        let other = DataDir::new(tmp.path().join("other"));
        let other_kit = DataDir::new(tmp.path().join("other-kit"));
        assert!(other.init_offline("Elm Trust", &other_kit, &keyfile::Passphrases::none()).is_err());
        assert!(!other.root().exists() && !other_kit.root().exists());
    }

    #[test]
    fn loose_or_short_key_files_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("k");
        write_new(&p, &[1; 31], 0o600).unwrap();
        assert!(matches!(read_secret(&p), Err(NodeError::BadKeyFile { len: 31, .. })));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(read_secret(&p), Err(NodeError::KeyPermissions(_))));
    }
}
