//! The HS256 secret: given explicitly, or a dev secret generated once under
//! the data directory so a local server and `audit-server token` agree
//! without any setup.

use super::AuthError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Shortest explicit secret accepted off loopback: HS256 is only as strong
/// as its key, and 32 bytes matches the SHA-256 output.
pub const MIN_SECRET_BYTES: usize = 32;

/// The dev secret's file name inside the data directory.
pub const DEV_SECRET_FILE: &str = "dev-secret";

/// Random bytes behind a generated dev secret.
const DEV_SECRET_RANDOM_BYTES: usize = 32;

/// The key that signs and verifies HS256 tokens.
#[derive(Clone)]
pub struct JwtSecret {
    bytes: Arc<[u8]>,
    /// Where the dev secret was read from; `None` for an explicit secret.
    dev_path: Option<PathBuf>,
}

impl fmt::Debug for JwtSecret {
    // The secret must never reach a log line, even through `{:?}` of the
    // settings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSecret")
            .field("bytes", &format_args!("[redacted; {}]", self.bytes.len()))
            .field("dev_path", &self.dev_path)
            .finish()
    }
}

impl JwtSecret {
    /// Wraps an explicit secret as is (no length check: see [`Self::resolve`]).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: bytes.into().into(),
            dev_path: None,
        }
    }

    /// Picks the secret the server and the CLI use.
    ///
    /// - An explicit (non-empty) secret is used as given; off loopback it must
    ///   be at least [`MIN_SECRET_BYTES`] long.
    /// - Without one, a loopback listener uses `<data_dir>/dev-secret`,
    ///   generated on first use; any other listener is refused, since anyone
    ///   who can read that file could mint tokens.
    pub fn resolve(
        explicit: Option<String>,
        data_dir: &Path,
        listen: SocketAddr,
    ) -> Result<Self, AuthError> {
        let loopback = listen.ip().to_canonical().is_loopback();
        match explicit.filter(|secret| !secret.is_empty()) {
            Some(secret) if secret.len() < MIN_SECRET_BYTES && !loopback => {
                Err(AuthError::ShortSecret {
                    listen,
                    len: secret.len(),
                })
            }
            Some(secret) => {
                if secret.len() < MIN_SECRET_BYTES {
                    tracing::warn!(
                        len = secret.len(),
                        min = MIN_SECRET_BYTES,
                        "jwt secret is short; it is accepted only because the listener is loopback"
                    );
                }
                Ok(Self::new(secret.into_bytes()))
            }
            None if !loopback => Err(AuthError::MissingSecret { listen }),
            None => Self::dev(data_dir),
        }
    }

    /// Reads `<data_dir>/dev-secret`, generating it first when it is missing.
    pub fn dev(data_dir: &Path) -> Result<Self, AuthError> {
        let path = data_dir.join(DEV_SECRET_FILE);
        let bytes = match read_dev_secret(&path)? {
            Some(bytes) => bytes,
            None => create_dev_secret(data_dir, &path)?,
        };
        Ok(Self {
            bytes: bytes.into(),
            dev_path: Some(path),
        })
    }

    /// The secret's bytes, for HS256 and for anything else keyed by it.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// True for the generated dev secret, so startup can say how to get a
    /// token.
    pub fn is_dev(&self) -> bool {
        self.dev_path.is_some()
    }

    /// The dev secret's file, when this is the dev secret.
    pub fn dev_path(&self) -> Option<&Path> {
        self.dev_path.as_deref()
    }
}

fn dev_error(path: &Path) -> impl FnOnce(io::Error) -> AuthError + '_ {
    move |source| AuthError::DevSecret {
        path: path.to_owned(),
        source,
    }
}

/// Returns the stored dev secret, or `None` when the file does not exist yet.
fn read_dev_secret(path: &Path) -> Result<Option<Vec<u8>>, AuthError> {
    let contents = match fs::read(path) {
        Ok(contents) => contents,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(dev_error(path)(error)),
    };
    // Tolerate a trailing newline from an editor; the secret is the text.
    let secret = contents.trim_ascii().to_vec();
    if secret.len() < MIN_SECRET_BYTES {
        return Err(dev_error(path)(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("shorter than {MIN_SECRET_BYTES} bytes; delete it to generate a new one"),
        )));
    }
    warn_if_readable_by_others(path);
    Ok(Some(secret))
}

/// Generates a new dev secret and stores it with [`create_private_once`];
/// when another process got there first, reads theirs.
fn create_dev_secret(data_dir: &Path, path: &Path) -> Result<Vec<u8>, AuthError> {
    let random: [u8; DEV_SECRET_RANDOM_BYTES] = rand::random();
    // Stored as text so the same string can be passed as --jwt-secret.
    let secret = URL_SAFE_NO_PAD.encode(random).into_bytes();
    match create_private_once(data_dir, path, &secret) {
        Ok(true) => {
            tracing::info!(path = %path.display(), "generated dev jwt secret");
            Ok(secret)
        }
        Ok(false) => read_dev_secret(path)?
            .ok_or_else(|| dev_error(path)(io::Error::from(io::ErrorKind::NotFound))),
        Err(error) => Err(dev_error(path)(error)),
    }
}

/// Creates `path` in `dir` (and `dir` itself) holding `contents` and a
/// newline, readable by its owner only; returns false when the file already
/// exists, leaving it as it is.
///
/// Writes a private temporary file, then hard-links it into place: the link
/// fails if the file appeared meanwhile, so two processes starting at once
/// end up with the same contents and nobody reads a half-written file.
pub(crate) fn create_private_once(dir: &Path, path: &Path, contents: &[u8]) -> io::Result<bool> {
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(
        ".{name}.{}.{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let written = write_private(&temporary, contents);
    let linked = written.and_then(|()| fs::hard_link(&temporary, path));
    // Best effort: a leftover temporary file holds nothing anyone uses.
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(error),
    }
}

/// Creates `path` readable by its owner only (0600 on Unix) and writes
/// `secret` and a newline to it.
fn write_private(path: &Path, secret: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(secret)?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(unix)]
pub(crate) fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = fs::metadata(path) {
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:o}"),
                "secret file is readable by other users; chmod 600 it"
            );
        }
    }
}

#[cfg(not(unix))]
pub(crate) fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: &str = "127.0.0.1:50051";
    const PUBLIC: &str = "0.0.0.0:50051";

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn dev_secret_is_generated_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        // The parent does not exist yet: it is created.
        let data_dir = dir.path().join("nested").join("data");

        let first = JwtSecret::resolve(None, &data_dir, addr(LOOPBACK)).unwrap();
        assert!(first.is_dev());
        assert!(first.bytes().len() >= MIN_SECRET_BYTES);
        let path = data_dir.join(DEV_SECRET_FILE);
        assert_eq!(first.dev_path(), Some(path.as_path()));

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }

        let second = JwtSecret::resolve(None, &data_dir, addr("[::1]:50051")).unwrap();
        assert_eq!(first.bytes(), second.bytes());
        // Only the secret is left behind, no temporary files.
        assert_eq!(fs::read_dir(&data_dir).unwrap().count(), 1);
    }

    #[test]
    fn short_dev_secret_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(DEV_SECRET_FILE), "short\n").unwrap();
        let error = JwtSecret::dev(dir.path()).unwrap_err().to_string();
        assert!(error.contains("shorter than 32 bytes"), "{error}");
    }

    #[test]
    fn explicit_secret_wins_and_is_not_dev() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "s".repeat(MIN_SECRET_BYTES);
        let resolved = JwtSecret::resolve(Some(secret.clone()), dir.path(), addr(PUBLIC)).unwrap();
        assert!(!resolved.is_dev());
        assert_eq!(resolved.bytes(), secret.as_bytes());
        assert!(!dir.path().join(DEV_SECRET_FILE).exists());
    }

    #[test]
    fn short_secret_is_refused_off_loopback_only() {
        let dir = tempfile::tempdir().unwrap();
        let error = JwtSecret::resolve(Some("tiny".into()), dir.path(), addr(PUBLIC)).unwrap_err();
        assert!(
            matches!(error, AuthError::ShortSecret { len: 4, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("at least 32 bytes"), "{error}");

        let local = JwtSecret::resolve(Some("tiny".into()), dir.path(), addr(LOOPBACK)).unwrap();
        assert_eq!(local.bytes(), b"tiny");
    }

    #[test]
    fn missing_secret_is_refused_off_loopback() {
        let dir = tempfile::tempdir().unwrap();
        for listen in [PUBLIC, "192.168.1.10:50051", "[::]:50051"] {
            let error = JwtSecret::resolve(None, dir.path(), addr(listen)).unwrap_err();
            assert!(matches!(error, AuthError::MissingSecret { .. }), "{error}");
            let empty = JwtSecret::resolve(Some(String::new()), dir.path(), addr(listen));
            assert!(matches!(empty, Err(AuthError::MissingSecret { .. })));
        }
        // Refusing must not leave a dev secret behind.
        assert!(!dir.path().join(DEV_SECRET_FILE).exists());
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let secret = JwtSecret::new("super-secret-value-that-must-not-leak");
        let debug = format!("{secret:?}");
        assert!(!debug.contains("super-secret"), "{debug}");
    }
}
