//! The code alphabet, reading what people type, and the plaintext codes.

use core::fmt;

use zeroize::{Zeroize, Zeroizing};

use crate::error::InputError;

/// Crockford's base32 alphabet: digits and capitals without `I`, `L`, `O` and `U`,
/// so that no two symbols look alike. Each symbol carries 5 bits.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Bits of entropy per symbol.
pub const BITS_PER_SYMBOL: usize = 5;
/// The fewest symbols a code may have: 4 symbols, 20 bits, NIST SP 800-63B's floor
/// for look-up secrets.
pub const MIN_CODE_LENGTH: usize = 4;
/// The most symbols a code may have.
pub const MAX_CODE_LENGTH: usize = 32;
/// The longest typed input read, in bytes; longer input is refused before any hashing.
pub const MAX_INPUT_BYTES: usize = 64;
/// Symbols per group when a code is displayed (`7KQ4M-XR2PD`).
pub const GROUP_SIZE: usize = 5;

/// A typed code reduced to its canonical symbols: uppercase, separators removed,
/// look-alikes mapped (`O`→`0`, `I`/`L`→`1`). Zeroized on drop; `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct NormalizedCode {
    symbols: [u8; MAX_CODE_LENGTH],
    len: usize,
}

impl NormalizedCode {
    /// Reads a code typed by a person: case-insensitive; spaces, tabs and hyphens
    /// are ignored; `O` reads as `0` and `I`/`L` as `1`. Anything else outside the
    /// alphabet, and input over [`MAX_INPUT_BYTES`], is an error.
    ///
    /// ```
    /// use twofold_backup::NormalizedCode;
    ///
    /// let code = NormalizedCode::parse(" 7kq4m - xr2pd ")?;
    /// assert_eq!(code.as_str(), "7KQ4MXR2PD");
    /// assert_eq!(NormalizedCode::parse("OIL")?.as_str(), "011");
    /// # Ok::<(), twofold_backup::InputError>(())
    /// ```
    pub fn parse(input: &str) -> Result<NormalizedCode, InputError> {
        if input.len() > MAX_INPUT_BYTES {
            return Err(InputError::TooLong {
                max_bytes: MAX_INPUT_BYTES,
            });
        }
        let mut symbols = [0u8; MAX_CODE_LENGTH];
        let mut len = 0usize;
        for (position, c) in input.chars().enumerate() {
            let symbol = match c.to_ascii_uppercase() {
                ' ' | '\t' | '-' => continue,
                'O' => b'0',
                'I' | 'L' => b'1',
                c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c as u8,
                _ => return Err(InputError::InvalidCharacter { position }),
            };
            if let Some(slot) = symbols.get_mut(len) {
                *slot = symbol;
            }
            len += 1;
        }
        if len > MAX_CODE_LENGTH {
            symbols.zeroize();
            return Err(InputError::WrongLength {
                expected: MAX_CODE_LENGTH,
                found: len,
            });
        }
        Ok(NormalizedCode { symbols, len })
    }

    /// The canonical symbols, without separators: the bytes that are hashed.
    pub fn as_str(&self) -> &str {
        // Every stored symbol is an ASCII byte of `ALPHABET`.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.symbols.get(..self.len).unwrap_or_default()
    }

    /// The number of symbols.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no symbol was typed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for NormalizedCode {
    fn drop(&mut self) {
        self.symbols.zeroize();
    }
}

impl fmt::Debug for NormalizedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NormalizedCode({} symbols, …)", self.len)
    }
}

/// Formats canonical symbols for reading: groups of [`GROUP_SIZE`] joined by `-`.
pub(crate) fn grouped(symbols: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(
        symbols.len() + symbols.len() / GROUP_SIZE,
    ));
    for (i, &symbol) in symbols.iter().enumerate() {
        if i > 0 && i % GROUP_SIZE == 0 {
            out.push('-');
        }
        out.push(char::from(symbol));
    }
    out
}

/// One plaintext backup code, as shown to the user once. Zeroized on drop;
/// `Debug` is redacted; the text is reached only through [`expose`](BackupCode::expose).
#[derive(Clone, PartialEq, Eq)]
pub struct BackupCode(Zeroizing<String>);

impl BackupCode {
    pub(crate) fn new(text: Zeroizing<String>) -> BackupCode {
        BackupCode(text)
    }

    /// The code for display, grouped for reading (`7KQ4M-XR2PD`).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BackupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BackupCode(…)")
    }
}

/// The plaintext codes of a newly generated set: returned exactly once, by
/// [`BackupCodeSet::generate`](crate::BackupCodeSet::generate), never stored, not
/// `Clone`, zeroized on drop.
pub struct NewBackupCodes(Vec<BackupCode>);

impl NewBackupCodes {
    pub(crate) fn new(codes: Vec<BackupCode>) -> NewBackupCodes {
        NewBackupCodes(codes)
    }

    /// The codes, in slot order.
    pub fn codes(&self) -> &[BackupCode] {
        &self.0
    }

    /// Iterates over the codes' display text.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(BackupCode::expose)
    }

    /// The number of codes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never, for a generated set).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for NewBackupCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewBackupCodes({} codes, …)", self.0.len())
    }
}
