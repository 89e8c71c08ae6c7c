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

/// 64 hex digits → 32 bytes.
pub fn parse_key(text: &str) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(text, &mut key).ok()?;
    Some(key)
}

/// Reads keys in the documented format: `ID HEX` entries separated by
/// `separator` (a newline in the file, a comma in the variable); `#` starts a
/// comment line. The first is current.
pub fn parse_keys(text: &str, separator: char) -> Result<Vec<NamedKey>, String> {
    let entries: Vec<&str> = text
        .split(separator)
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    if let [single] = entries.as_slice()
        && let Some(bytes) = parse_key(single)
    {
        return Ok(vec![NamedKey {
            id: "clinic-1".into(),
            bytes,
        }]);
    }
    let mut keys: Vec<NamedKey> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let mut parts = entry.split([' ', '\t', ':']).filter(|p| !p.is_empty());
        let (Some(id), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("key {}: expected `ID HEX`", index + 1));
        };
        let bytes = parse_key(hex).ok_or_else(|| format!("key {id:?}: not 64 hex digits"))?;
        if keys.iter().any(|key| key.id == id) {
            return Err(format!("key {id:?} is listed twice"));
        }
        keys.push(NamedKey {
            id: id.to_string(),
            bytes,
        });
    }
    if keys.is_empty() {
        return Err("no key".into());
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
            parse_keys(&text, '\n')
                .map_err(|problem| StartError::Config(format!("{}: {problem}", path.display())))
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
        assert_eq!(parse_key("00ff"), None);
        assert_eq!(parse_key(&"zz".repeat(32)), None);
        assert_eq!(parse_key(&"é".repeat(32)), None);
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
        for bad in ["", "a b c", &format!("k {hex}\nk {hex}"), "k 00ff"] {
            assert!(parse_keys(bad, '\n').is_err(), "{bad:?}");
        }
    }
}
