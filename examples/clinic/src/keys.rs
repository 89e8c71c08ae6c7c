//! The keys that seal TOTP secrets (and new backup codes on their way to the
//! page): where they come from, and the file modes that keep them private.
//!
//! A key file (`DATA_DIR/secret.key`, created on the first run) or the
//! `CLINIC_SECRET_KEYS` variable holds one key per line (or per comma in the
//! variable): `ID HEX`, the id a short name such as `2026-11`, the key 64 hex
//! digits. **The first key is current** (it seals); the others are older keys
//! kept so that secrets sealed under them still open, and are re-sealed under
//! the current key at their next write (or at once with `--reseal`). Rotate by
//! adding a new first line; drop an old line once `--reseal` reports nothing
//! left under it. A file of a single 64-hex-digit line (the old format) is the
//! key `clinic-1`.

use std::path::Path;

use crate::StartError;

/// One key: its id and its 32 bytes.
#[derive(Clone)]
pub struct NamedKey {
    /// The id stored beside every secret sealed under it.
    pub id: String,
    /// The key.
    pub bytes: [u8; 32],
}

impl std::fmt::Debug for NamedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NamedKey({:?}, …)", self.id)
    }
}

/// Why keys are refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key's digits are not 64 hex digits.
    #[error("a key is 64 hex digits")]
    Digits(#[source] hex::FromHexError),
    /// The named key's digits are not 64 hex digits.
    #[error("key {id:?} is not 64 hex digits")]
    KeyDigits {
        /// The key's id.
        id: String,
        /// What the hex decoder found.
        #[source]
        source: hex::FromHexError,
    },
    /// An entry is not `ID HEX`.
    #[error("key {entry}: expected `ID HEX`")]
    Entry {
        /// Its place among the entries, from 1.
        entry: usize,
    },
    /// Two keys have the same id.
    #[error("key {id:?} is listed twice")]
    Duplicate {
        /// The id.
        id: String,
    },
    /// No key is given.
    #[error("no key is given")]
    Empty,
}

/// 64 hex digits → 32 bytes.
pub fn parse_key(text: &str) -> Result<[u8; 32], KeyError> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text, &mut key).map_err(KeyError::Digits)?;
    Ok(key)
}

/// Reads keys in the documented format: `ID HEX` entries separated by
/// `separator` (a newline in the file, a comma in the variable); `#` starts a
/// comment line. The first is current.
pub fn parse_keys(text: &str, separator: char) -> Result<Vec<NamedKey>, KeyError> {
    let entries: Vec<&str> = text
        .split(separator)
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    if let [single] = entries.as_slice()
        && let Ok(bytes) = parse_key(single)
    {
        return Ok(vec![NamedKey {
            id: "clinic-1".into(),
            bytes,
        }]);
    }
    let mut keys: Vec<NamedKey> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let mut parts = entry.split([' ', '\t', ':']).filter(|p| !p.is_empty());
        let (Some(id), Some(digits), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(KeyError::Entry { entry: index + 1 });
        };
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes).map_err(|source| KeyError::KeyDigits {
            id: id.to_string(),
            source,
        })?;
        if keys.iter().any(|key| key.id == id) {
            return Err(KeyError::Duplicate { id: id.to_string() });
        }
        keys.push(NamedKey {
            id: id.to_string(),
            bytes,
        });
    }
    if keys.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(keys)
}

/// Creates `dir` (and its parents) if needed, and makes it private (0700).
pub fn private_dir(dir: &Path) -> Result<(), StartError> {
    let io = |source| StartError::Io {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    Ok(())
}

/// Makes an existing file private (0600), or creates it empty and private: the
/// SQLite database before SQLite opens it (its WAL and SHM files take its mode).
pub fn private_file(path: &Path) -> Result<(), StartError> {
    let io = |source| StartError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

/// Reads the keys from `path`, creating the file (0600, one fresh key) on the
/// first run. Refuses a key file that the group or others may read.
pub fn load_or_create(path: &Path) -> Result<Vec<NamedKey>, StartError> {
    let io = |source| StartError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(StartError::Config(format!(
                        "{} is readable by others (mode {mode:o}): the key opens every TOTP secret. \
                         Run `chmod 600 {}` and start again",
                        path.display(),
                        path.display()
                    )));
                }
            }
            parse_keys(&text, '\n').map_err(|source| StartError::Keys {
                place: path.display().to_string(),
                source,
            })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|error| StartError::Config(error.to_string()))?;
            let id = "clinic-1".to_string();
            let text = format!(
                "# Keys that seal TOTP secrets: `ID HEX`, the first current (see the clinic README).\n{id} {}\n",
                hex::encode(bytes)
            );
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            use std::io::Write;
            options
                .open(path)
                .and_then(|mut file| file.write_all(text.as_bytes()))
                .map_err(io)?;
            Ok(vec![NamedKey { id, bytes }])
        }
        Err(error) => Err(io(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_in_every_documented_form() {
        let hex = "00ff".repeat(16);
        let key = parse_key(&hex).unwrap();
        assert_eq!((key[0], key[1]), (0, 0xff));
        assert_eq!(parse_key(&hex.to_uppercase()).unwrap(), key);
        // The old single-key file.
        let old = parse_keys(&format!("{hex}\n"), '\n').unwrap();
        assert_eq!(old[0].id, "clinic-1");
        // A file with a comment, a current and an older key.
        let other = "11".repeat(32);
        let file = parse_keys(&format!("# keys\n2026-12 {other}\n2026-11 {hex}\n"), '\n').unwrap();
        assert_eq!(
            file.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            ["2026-12", "2026-11"]
        );
        assert_eq!(file[1].bytes, key);
        // The variable's form.
        let variable = parse_keys(&format!("2026-12:{other},2026-11:{hex}"), ',').unwrap();
        assert_eq!(variable.len(), 2);
    }

    #[test]
    fn bad_digits_are_refused_with_what_is_wrong() {
        use hex::FromHexError;
        for (digits, expected) in [
            ("00ff".to_string(), FromHexError::InvalidStringLength),
            ("00".repeat(33), FromHexError::InvalidStringLength),
            ("0".repeat(63), FromHexError::OddLength),
            (
                format!("zz{}", "0".repeat(62)),
                FromHexError::InvalidHexCharacter { c: 'z', index: 0 },
            ),
        ] {
            assert!(
                matches!(parse_key(&digits), Err(KeyError::Digits(found)) if found == expected),
                "{digits:?}"
            );
            let named = parse_keys(&format!("k1 {digits}"), '\n');
            assert!(
                matches!(&named, Err(KeyError::KeyDigits { id, source })
                    if id == "k1" && *source == expected),
                "{digits:?}: {named:?}"
            );
        }
        // Multi-byte characters are not hex digits either.
        assert!(matches!(
            parse_key(&"é".repeat(32)),
            Err(KeyError::Digits(_))
        ));
    }

    #[test]
    fn bad_entries_are_refused_with_what_is_wrong() {
        let hex = "00ff".repeat(16);
        assert!(matches!(parse_keys("", '\n'), Err(KeyError::Empty)));
        assert!(matches!(
            parse_keys("# only a comment\n", '\n'),
            Err(KeyError::Empty)
        ));
        assert!(matches!(
            parse_keys(&format!("k1 {hex}\na b c"), '\n'),
            Err(KeyError::Entry { entry: 2 })
        ));
        assert!(matches!(
            parse_keys(&format!("k {hex}\nk {hex}"), '\n'),
            Err(KeyError::Duplicate { id }) if id == "k"
        ));
    }
}
