//! Key files, plain or encrypted at rest with a passphrase.
//!
//! A key file has one of two formats, told apart by its first bytes and
//! never by its name:
//! - plain: exactly the 32-byte ed25519 seed;
//! - encrypted: an age file (age-encryption.org/v1) in passphrase (scrypt)
//!   mode whose plaintext is exactly the plain format. `chorus` writes it
//!   ASCII-armored (`-----BEGIN AGE ENCRYPTED FILE-----`), so it survives
//!   being copied through a terminal or a mail and is recognisable by eye;
//!   a binary age file is read as well. Any age tool opens it.
//!
//! The passphrase of an encrypted key comes from the first of these that is
//! set ([`Passphrases::from_env`]):
//! 1. [`PASSPHRASE_FILE_VAR`]: a file holding the passphrase on one line,
//!    refused when other users may read it, like a key file;
//! 2. [`PASSPHRASE_VAR`]: the passphrase itself, the riskiest source (any
//!    process of the same user can read it from `/proc/PID/environ`, and a
//!    passphrase typed inline stays in the shell's history);
//! 3. a prompt on the terminal, without echo, only when stdin is a terminal.
//!
//! Every file is read with a size bound. Passphrases, file contents and
//! decrypted seeds are kept in buffers that are zeroed when dropped.

use std::fmt;
use std::fs;
use std::io::{IsTerminal, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use age::secrecy::zeroize::Zeroizing;
use age::secrecy::{ExposeSecret, SecretString};
use chorus_core::Keypair;
use sha2::{Digest, Sha256};

use crate::error::{NodeError, Result};

/// The environment variable naming a file that holds the passphrase.
pub const PASSPHRASE_FILE_VAR: &str = "CHORUS_PASSPHRASE_FILE";

/// The environment variable holding the passphrase itself.
pub const PASSPHRASE_VAR: &str = "CHORUS_PASSPHRASE";

/// The largest key file read. An armored encrypted seed is about 330
/// bytes, a plain one 32.
pub const MAX_KEY_FILE_BYTES: u64 = 4096;

/// The largest passphrase file read.
pub const MAX_PASSPHRASE_FILE_BYTES: u64 = 1024;

/// How many times a passphrase typed at the terminal may be wrong before
/// the read fails.
const TERMINAL_ATTEMPTS: u32 = 3;

/// The largest scrypt work factor (log2 of N) an encrypted key file may
/// ask for: at most about 4 GiB of memory and some seconds of work.
const MAX_WORK_FACTOR: u8 = 22;

const SEED_LEN: usize = 32;
const ARMOR_BEGIN: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
const BINARY_MAGIC: &[u8] = b"age-encryption.org/";

/// True when `content` (a key file's bytes) is an age file, armored or
/// binary, rather than a plain seed.
pub fn is_encrypted(content: &[u8]) -> bool {
    content.trim_ascii_start().starts_with(ARMOR_BEGIN) || content.starts_with(BINARY_MAGIC)
}

/// Where a passphrase came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassphraseSource {
    /// The file named by [`PASSPHRASE_FILE_VAR`].
    File(PathBuf),
    /// The variable [`PASSPHRASE_VAR`].
    Environment,
    /// Typed at the terminal.
    Terminal,
}

impl PassphraseSource {
    /// A stable short name for `--json`: `file`, `environment` or `terminal`.
    pub fn name(&self) -> &'static str {
        match self {
            PassphraseSource::File(_) => "file",
            PassphraseSource::Environment => "environment",
            PassphraseSource::Terminal => "terminal",
        }
    }
}

impl fmt::Display for PassphraseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PassphraseSource::File(p) => write!(f, "the passphrase file {} ({PASSPHRASE_FILE_VAR})", p.display()),
            PassphraseSource::Environment => write!(f, "the {PASSPHRASE_VAR} environment variable"),
            PassphraseSource::Terminal => f.write_str("the terminal"),
        }
    }
}

/// The passphrase sources a process may use, in order of preference: the
/// passphrase file, the passphrase variable, the terminal.
#[derive(Debug, Default)]
pub struct Passphrases {
    file: Option<PathBuf>,
    variable: Option<SecretString>,
    terminal: bool,
}

impl Passphrases {
    /// The sources this process has: [`PASSPHRASE_FILE_VAR`] and
    /// [`PASSPHRASE_VAR`] when set and not empty, the terminal when stdin
    /// is one.
    pub fn from_env() -> Self {
        let file = std::env::var_os(PASSPHRASE_FILE_VAR).filter(|v| !v.is_empty()).map(PathBuf::from);
        let variable = std::env::var(PASSPHRASE_VAR).ok().filter(|v| !v.is_empty()).map(SecretString::from);
        Passphrases { file, variable, terminal: std::io::stdin().is_terminal() }
    }

    /// No source: every encrypted key is refused with
    /// [`NodeError::NoPassphrase`].
    pub fn none() -> Self {
        Passphrases::default()
    }

    /// Only the passphrase file at `path`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Passphrases { file: Some(path.into()), ..Passphrases::default() }
    }

    /// Only `passphrase`, as if given in [`PASSPHRASE_VAR`].
    pub fn variable(passphrase: &str) -> Self {
        Passphrases { variable: Some(SecretString::from(passphrase)), ..Passphrases::default() }
    }

    /// The source a passphrase is taken from, if there is one.
    pub fn source(&self) -> Option<PassphraseSource> {
        if let Some(p) = &self.file {
            Some(PassphraseSource::File(p.clone()))
        } else if self.variable.is_some() {
            Some(PassphraseSource::Environment)
        } else if self.terminal {
            Some(PassphraseSource::Terminal)
        } else {
            None
        }
    }

    /// The passphrase that should open the encrypted key file `key`.
    fn existing(&self, key: &Path) -> Result<(SecretString, PassphraseSource)> {
        let source = self.source().ok_or_else(|| NodeError::NoPassphrase(key.to_path_buf()))?;
        let passphrase = match &source {
            PassphraseSource::Terminal => prompt(&format!("Passphrase for {}: ", key.display()))?,
            _ => self.unattended(&source)?,
        };
        Ok((passphrase, source))
    }

    /// A new passphrase to encrypt the key file `key` with: from the file or
    /// the variable, or typed twice at the terminal.
    pub fn new_passphrase(&self, key: &Path) -> Result<(SecretString, PassphraseSource)> {
        let source = self.source().ok_or_else(|| {
            NodeError::Passphrase(format!(
                "{} needs a new passphrase; give it with {PASSPHRASE_FILE_VAR}=FILE (a file only you can read) \
                 or run in a terminal",
                key.display()
            ))
        })?;
        let passphrase = match &source {
            PassphraseSource::Terminal => {
                let first = prompt(&format!("New passphrase for {}: ", key.display()))?;
                let again = prompt("The same passphrase again: ")?;
                if first.expose_secret() != again.expose_secret() {
                    return Err(NodeError::Passphrase("the two passphrases differ; nothing was written".into()));
                }
                first
            }
            _ => self.unattended(&source)?,
        };
        Ok((passphrase, source))
    }

    /// The passphrase of the file or variable source.
    fn unattended(&self, source: &PassphraseSource) -> Result<SecretString> {
        match (source, &self.variable) {
            (PassphraseSource::File(p), _) => read_passphrase_file(p),
            (PassphraseSource::Environment, Some(v)) => Ok(SecretString::from(v.expose_secret())),
            _ => Err(NodeError::Passphrase("no passphrase was given".into())),
        }
    }
}

/// Asks for a passphrase on the terminal, without echo.
fn prompt(text: &str) -> Result<SecretString> {
    let typed = Zeroizing::new(
        rpassword::prompt_password(text)
            .map_err(|e| NodeError::Passphrase(format!("cannot read a passphrase from the terminal: {e}")))?,
    );
    if typed.is_empty() {
        return Err(NodeError::Passphrase("the passphrase is empty; nothing was done".into()));
    }
    Ok(SecretString::from(typed.as_str()))
}

/// The passphrase held by the file at `path`: its first line, without the
/// line ending. Refused when other users may read the file, when it is
/// larger than [`MAX_PASSPHRASE_FILE_BYTES`], empty, or of several lines.
pub fn read_passphrase_file(path: &Path) -> Result<SecretString> {
    let what = || format!("the passphrase file {} ({PASSPHRASE_FILE_VAR})", path.display());
    let file = fs::File::open(path).map_err(|e| NodeError::io("cannot read the passphrase file", path, e))?;
    let meta = file.metadata().map_err(|e| NodeError::io("cannot read the passphrase file", path, e))?;
    if !meta.is_file() {
        return Err(NodeError::Passphrase(format!("{} is not a file", what())));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(NodeError::Passphrase(format!(
            "{} can be read by other users; run `chmod 600` on it (and consider the passphrase known)",
            what()
        )));
    }
    let mut content = Zeroizing::new(Vec::with_capacity(256));
    file.take(MAX_PASSPHRASE_FILE_BYTES + 1)
        .read_to_end(&mut content)
        .map_err(|e| NodeError::io("cannot read the passphrase file", path, e))?;
    if content.len() as u64 > MAX_PASSPHRASE_FILE_BYTES {
        return Err(NodeError::Passphrase(format!(
            "{} is larger than {MAX_PASSPHRASE_FILE_BYTES} bytes; it holds the passphrase alone, on one line",
            what()
        )));
    }
    let line = content.strip_suffix(b"\n").unwrap_or(&content);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(NodeError::Passphrase(format!("{} is empty", what())));
    }
    if line.contains(&b'\n') {
        return Err(NodeError::Passphrase(format!("{} has several lines; it holds the passphrase alone", what())));
    }
    let text = std::str::from_utf8(line).map_err(|_| NodeError::Passphrase(format!("{} is not UTF-8 text", what())))?;
    Ok(SecretString::from(text))
}

/// The encrypted key file content (armored age, passphrase mode) of
/// `seed`, with age's own scrypt work factor: about a second of work on
/// this machine, to write and to open.
pub fn encrypt_seed(seed: &[u8; 32], passphrase: SecretString) -> Result<Vec<u8>> {
    seal(seed, age::scrypt::Recipient::new(passphrase))
}

/// The encrypted key file content of `key` under `passphrase`, as
/// [`encrypt_seed`] makes it, opened again with the same passphrase before
/// it is returned: a key file is never replaced by one that does not open.
pub fn encrypt_key(key: &Keypair, passphrase: SecretString) -> Result<Vec<u8>> {
    let seed = Zeroizing::new(key.seed());
    let again = SecretString::from(passphrase.expose_secret());
    let sealed = encrypt_seed(&seed, passphrase)?;
    let opened = decrypt_seed(Path::new("the encrypted key"), &sealed, again)?;
    if *opened != *seed {
        return Err(NodeError::Passphrase(
            "the encrypted key does not open to the same key; nothing was written".into(),
        ));
    }
    Ok(sealed)
}

fn seal(seed: &[u8; 32], recipient: age::scrypt::Recipient) -> Result<Vec<u8>> {
    age::encrypt_and_armor(&recipient, seed)
        .map(String::into_bytes)
        .map_err(|e| NodeError::Passphrase(format!("cannot encrypt the key: {e}")))
}

/// The seed held by the encrypted key file content `content`, read from
/// `path` (named in errors): [`NodeError::WrongPassphrase`] when the
/// passphrase is not the file's, [`NodeError::BadEncryptedKey`] when the
/// file is damaged, not in passphrase mode, or does not hold a seed.
pub fn decrypt_seed(path: &Path, content: &[u8], passphrase: SecretString) -> Result<Zeroizing<[u8; 32]>> {
    let bad = |reason: String| NodeError::BadEncryptedKey { path: path.to_path_buf(), reason };
    let decryptor = age::Decryptor::new_buffered(age::armor::ArmoredReader::new(content))
        .map_err(|e| bad(format!("{e} (restore it from a backup)")))?;
    if !decryptor.is_scrypt() {
        return Err(bad("it is encrypted to age recipients, not with a passphrase; decrypt it with age first".into()));
    }
    let mut identity = age::scrypt::Identity::new(passphrase);
    // age bounds the work it accepts by timing scrypt here and now (16
    // times its target); a busy machine, or a slower one than the key was
    // encrypted on, then refuses a file chorus wrote. Key files are this
    // user's private files, so a fixed bound serves: 2^22 is above every
    // factor age chooses (a second of work on a fast machine is about 2^18).
    identity.set_max_work_factor(MAX_WORK_FACTOR);
    let mut reader = match decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)) {
        Ok(r) => r,
        Err(age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys) => {
            return Err(NodeError::WrongPassphrase(path.to_path_buf()))
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    let mut plain = Zeroizing::new(Vec::with_capacity(SEED_LEN + 1));
    (&mut reader)
        .take(SEED_LEN as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|e| bad(format!("{e} (restore it from a backup)")))?;
    if plain.len() != SEED_LEN {
        return Err(bad("it does not hold a 32-byte key".into()));
    }
    let mut seed = Zeroizing::new([0u8; SEED_LEN]);
    seed.copy_from_slice(&plain);
    Ok(seed)
}

/// A key read from a key file, and how it was opened.
#[derive(Clone, Debug)]
pub struct KeyFile {
    /// The key.
    pub keypair: Keypair,
    /// `None` for a plain key file; for an encrypted one, where the
    /// passphrase that opened it came from.
    pub opened_with: Option<PassphraseSource>,
}

impl KeyFile {
    /// True when the file is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.opened_with.is_some()
    }
}

/// Encrypted keys this process has opened, by the SHA-256 of their file's
/// content: a command or node that reads one key twice (for its id, then to
/// sign) asks for the passphrase and spends scrypt's second once. The same
/// content always holds the same key, so an entry is never stale.
static OPENED: Mutex<Vec<([u8; 32], KeyFile)>> = Mutex::new(Vec::new());

/// Reads the key file at `path`, plain or encrypted (then with a
/// passphrase from `passphrases`; a passphrase typed at the terminal may be
/// retried). Refuses a file other users may read and a file larger than
/// [`MAX_KEY_FILE_BYTES`].
pub fn read_key_file(path: &Path, passphrases: &Passphrases) -> Result<KeyFile> {
    let content = read_private(path)?;
    if !is_encrypted(&content) {
        let seed: &[u8; SEED_LEN] = content
            .as_slice()
            .try_into()
            .map_err(|_| NodeError::BadKeyFile { path: path.to_path_buf(), len: content.len() as u64 })?;
        tracing::debug!("{}: key stored unencrypted", path.display());
        return Ok(KeyFile { keypair: Keypair::from_seed(seed), opened_with: None });
    }
    let digest: [u8; 32] = Sha256::digest(content.as_slice()).into();
    if let Some(known) = opened().iter().find(|(d, _)| *d == digest) {
        return Ok(known.1.clone());
    }
    let mut attempt = 1;
    let seed = loop {
        let (passphrase, source) = passphrases.existing(path)?;
        match decrypt_seed(path, &content, passphrase) {
            Ok(seed) => break KeyFile { keypair: Keypair::from_seed(&seed), opened_with: Some(source) },
            Err(NodeError::WrongPassphrase(_))
                if source == PassphraseSource::Terminal && attempt < TERMINAL_ATTEMPTS =>
            {
                eprintln!("the passphrase does not open {}; try again", path.display());
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    if let Some(source) = &seed.opened_with {
        tracing::info!("{}: encrypted key opened with the passphrase from {source}", path.display());
    }
    opened().push((digest, seed.clone()));
    Ok(seed)
}

fn opened() -> std::sync::MutexGuard<'static, Vec<([u8; 32], KeyFile)>> {
    // A panic while the list was held leaves it whole (a push either
    // happened or did not), so a poisoned lock is still usable.
    OPENED.lock().unwrap_or_else(|e| e.into_inner())
}

/// The content of a key file, refused when other users may read it or
/// when it is larger than [`MAX_KEY_FILE_BYTES`].
pub fn read_private(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let file = fs::File::open(path).map_err(|e| NodeError::io("cannot read", path, e))?;
    let meta = file.metadata().map_err(|e| NodeError::io("cannot read", path, e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(NodeError::KeyPermissions(path.to_path_buf()));
    }
    let too_large = || {
        NodeError::io(
            "cannot read",
            path,
            std::io::Error::other(format!("a key file is at most {MAX_KEY_FILE_BYTES} bytes; is this a key file?")),
        )
    };
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(too_large());
    }
    let mut content = Zeroizing::new(Vec::with_capacity(meta.len() as usize + 1));
    file.take(MAX_KEY_FILE_BYTES + 1).read_to_end(&mut content).map_err(|e| NodeError::io("cannot read", path, e))?;
    if content.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(too_large());
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::OpenOptionsExt;

    use super::*;
    use crate::datadir::write_new;

    /// age's lowest sensible work factor: the tests check the format, not
    /// the cost (which [`encrypt_seed`] leaves to age).
    fn quick_encrypt(seed: &[u8; 32], passphrase: &str) -> Vec<u8> {
        let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase));
        recipient.set_work_factor(4);
        seal(seed, recipient).unwrap()
    }

    fn private_file(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
        let p = dir.join(name);
        write_new(&p, content, 0o600).unwrap();
        p
    }

    #[test]
    fn an_encrypted_key_opens_with_its_passphrase_and_holds_the_seed() {
        let tmp = tempfile::tempdir().unwrap();
        let key = Keypair::from_seed(&[7; 32]);
        let content = quick_encrypt(&key.seed(), "correct horse");
        assert!(content.starts_with(ARMOR_BEGIN), "armored");
        assert!(is_encrypted(&content));
        let path = private_file(tmp.path(), "k", &content);
        let read = read_key_file(&path, &Passphrases::variable("correct horse")).unwrap();
        assert_eq!(read.keypair.public(), key.public());
        assert_eq!(read.opened_with, Some(PassphraseSource::Environment));
        // The same content again: known to this process, no passphrase asked.
        let again = read_key_file(&path, &Passphrases::none()).unwrap();
        assert_eq!(again.keypair.public(), key.public());
    }

    #[test]
    fn a_wrong_passphrase_is_named_as_such() {
        let tmp = tempfile::tempdir().unwrap();
        let path = private_file(tmp.path(), "k", &quick_encrypt(&[8; 32], "right"));
        let e = read_key_file(&path, &Passphrases::variable("wrong")).unwrap_err();
        assert!(matches!(&e, NodeError::WrongPassphrase(p) if *p == path), "{e}");
        assert_eq!(e.to_string(), format!("the passphrase does not open {}", path.display()));
    }

    #[test]
    fn an_encrypted_key_without_a_passphrase_source_says_how_to_give_one() {
        let tmp = tempfile::tempdir().unwrap();
        let path = private_file(tmp.path(), "k", &quick_encrypt(&[9; 32], "p"));
        let e = read_key_file(&path, &Passphrases::none()).unwrap_err();
        assert!(matches!(e, NodeError::NoPassphrase(_)), "{e}");
        assert!(e.to_string().contains("CHORUS_PASSPHRASE_FILE="), "{e}");
    }

    #[test]
    fn plain_and_encrypted_files_are_told_apart_by_content() {
        let tmp = tempfile::tempdir().unwrap();
        // A plain file named like an encrypted one is plain.
        let plain = private_file(tmp.path(), "k.age", &[3; 32]);
        let read = read_key_file(&plain, &Passphrases::none()).unwrap();
        assert!(!read.is_encrypted());
        assert_eq!(read.keypair.public(), Keypair::from_seed(&[3; 32]).public());
        // A binary age file is encrypted too.
        let mut recipient = age::scrypt::Recipient::new(SecretString::from("b"));
        recipient.set_work_factor(4);
        let binary = age::encrypt(&recipient, &[4; 32]).unwrap();
        assert!(is_encrypted(&binary) && !binary.starts_with(ARMOR_BEGIN));
        let path = private_file(tmp.path(), "binary", &binary);
        let read = read_key_file(&path, &Passphrases::variable("b")).unwrap();
        assert!(read.is_encrypted());
        assert_eq!(read.keypair.public(), Keypair::from_seed(&[4; 32]).public());
        // Text that is not an age header is no encrypted key, whatever it says.
        let text = private_file(tmp.path(), "text", b"-----BEGIN PGP MESSAGE-----\n");
        assert!(matches!(read_key_file(&text, &Passphrases::none()), Err(NodeError::BadKeyFile { len: 28, .. })));
    }

    #[test]
    fn damaged_encrypted_files_are_refused_as_damaged() {
        let tmp = tempfile::tempdir().unwrap();
        let mut content = quick_encrypt(&[5; 32], "p");
        // Truncated: the end of the armor is gone.
        let cut = private_file(tmp.path(), "cut", &content[..content.len() - 40]);
        let e = read_key_file(&cut, &Passphrases::variable("p")).unwrap_err();
        assert!(matches!(e, NodeError::BadEncryptedKey { .. }), "{e}");
        // A header line altered.
        let at = content.iter().position(|&b| b == b'\n').unwrap() + 5;
        content[at] = if content[at] == b'A' { b'B' } else { b'A' };
        let altered = private_file(tmp.path(), "altered", &content);
        let e = read_key_file(&altered, &Passphrases::variable("p")).unwrap_err();
        assert!(matches!(e, NodeError::BadEncryptedKey { .. } | NodeError::WrongPassphrase(_)), "{e}");
        // An encrypted file whose plaintext is not a seed.
        let mut recipient = age::scrypt::Recipient::new(SecretString::from("p"));
        recipient.set_work_factor(4);
        let short = age::encrypt_and_armor(&recipient, &[1; 31]).unwrap();
        let short = private_file(tmp.path(), "short", short.as_bytes());
        let e = read_key_file(&short, &Passphrases::variable("p")).unwrap_err();
        assert!(e.to_string().contains("does not hold a 32-byte key"), "{e}");
    }

    #[test]
    fn key_files_are_bounded_and_private() {
        let tmp = tempfile::tempdir().unwrap();
        let big = private_file(tmp.path(), "big", &vec![b'-'; MAX_KEY_FILE_BYTES as usize + 1]);
        let e = read_key_file(&big, &Passphrases::none()).unwrap_err();
        assert!(e.to_string().contains("at most 4096 bytes"), "{e}");
        let open = tmp.path().join("open");
        fs::OpenOptions::new().write(true).create_new(true).mode(0o640).open(&open).unwrap();
        fs::write(&open, quick_encrypt(&[6; 32], "p")).unwrap();
        assert!(matches!(read_key_file(&open, &Passphrases::variable("p")), Err(NodeError::KeyPermissions(_))));
    }

    #[test]
    fn the_passphrase_file_is_checked_like_a_key_file() {
        let tmp = tempfile::tempdir().unwrap();
        let key = private_file(tmp.path(), "k", &quick_encrypt(&[10; 32], "from a file"));
        // One line; its line ending is not part of the passphrase.
        let pass = private_file(tmp.path(), "pass", b"from a file\n");
        let read = read_key_file(&key, &Passphrases::file(&pass)).unwrap();
        assert_eq!(read.opened_with, Some(PassphraseSource::File(pass.clone())));
        fs::set_permissions(&pass, fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_passphrase_file(&pass).unwrap_err();
        assert!(e.to_string().contains("can be read by other users"), "{e}");
        let empty = private_file(tmp.path(), "empty", b"\n");
        assert!(read_passphrase_file(&empty).unwrap_err().to_string().contains("is empty"));
        let lines = private_file(tmp.path(), "lines", b"one\ntwo\n");
        assert!(read_passphrase_file(&lines).unwrap_err().to_string().contains("several lines"));
        let big = private_file(tmp.path(), "big", &vec![b'x'; MAX_PASSPHRASE_FILE_BYTES as usize + 1]);
        assert!(read_passphrase_file(&big).unwrap_err().to_string().contains("larger than"));
        let crlf = private_file(tmp.path(), "crlf", b"windows\r\n");
        assert_eq!(read_passphrase_file(&crlf).unwrap().expose_secret(), "windows");
    }

    #[test]
    fn sources_are_taken_in_order_and_new_passphrases_need_one() {
        let tmp = tempfile::tempdir().unwrap();
        let both = Passphrases { file: Some(tmp.path().join("p")), variable: Some("v".into()), terminal: true };
        assert_eq!(both.source(), Some(PassphraseSource::File(tmp.path().join("p"))));
        let var = Passphrases { file: None, variable: Some("v".into()), terminal: true };
        assert_eq!(var.source(), Some(PassphraseSource::Environment));
        assert_eq!(var.new_passphrase(Path::new("k")).unwrap().0.expose_secret(), "v");
        let e = Passphrases::none().new_passphrase(Path::new("k")).unwrap_err();
        assert!(e.to_string().contains("needs a new passphrase"), "{e}");
    }

    #[test]
    fn the_shipped_encryption_opens_with_ages_default_work_factor() {
        let key = Keypair::from_seed(&[11; 32]);
        let sealed = encrypt_key(&key, SecretString::from("slow")).unwrap();
        let seed = decrypt_seed(Path::new("k"), &sealed, SecretString::from("slow")).unwrap();
        assert_eq!(*seed, [11; 32]);
    }
}
