//! The stored set: generation, verification, consumption and the stored format.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64ct::{Base64Unpadded, Encoding};
use rand_core::TryCryptoRng;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, Zeroizing};

use crate::code::{
    ALPHABET, BITS_PER_SYMBOL, BackupCode, MAX_CODE_LENGTH, MIN_CODE_LENGTH, NewBackupCodes,
    NormalizedCode, grouped,
};
use crate::error::{ConfigError, DecodeError, Error, InputError};

/// The most codes a set may hold.
pub const MAX_CODES: usize = 100;
/// Codes per set by default: the ten of the guide ("A list of 10 one-time-use codes").
pub const DEFAULT_COUNT: usize = 10;
/// Symbols per code by default: 10 symbols of 5 bits, 50 bits of entropy.
pub const DEFAULT_LENGTH: usize = 10;
/// The remaining count at or below which [`BackupCodeSet::is_low`] suggests a new set by default.
pub const DEFAULT_LOW_THRESHOLD: usize = 3;
/// Bytes of random salt per set.
pub const SALT_BYTES: usize = 16;
/// Bytes of Argon2id output per code.
pub const DIGEST_BYTES: usize = 32;
/// The longest stored encoding accepted by [`BackupCodeSet::decode`].
pub const MAX_ENCODED_BYTES: usize = 8192;
/// The format tag that starts every stored set.
pub const FORMAT: &str = "twofold-backup-v1";

/// Argon2id cost parameters (version 0x13, 32-byte output).
///
/// They are stored with each set, so they can be raised later: sets hashed
/// below the configured minimum report [`BackupCodeSet::needs_regeneration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashParams {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl HashParams {
    /// OWASP's recommendation for Argon2id: m = 19 MiB, t = 2, p = 1.
    pub const OWASP: HashParams = HashParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
    /// The cheapest parameters Argon2id accepts (m = 8 KiB, t = 1, p = 1), for
    /// tests only. **Dangerous**: never hash codes that guard real accounts with
    /// them.
    ///
    /// Backup codes are stored as Argon2id digests so that a stolen database
    /// costs an attacker real work per guess. These parameters make each guess
    /// thousands of times cheaper than [`HashParams::OWASP`] (8 KiB and one pass
    /// instead of 19 MiB and two). They exist because the OWASP parameters make
    /// a test suite that sets up many users slow, and slower still unoptimised.
    /// Sets hashed with them report [`BackupCodeSet::needs_regeneration`] under
    /// any configuration with the default minimum, so that codes created by a
    /// test configuration that slipped into production are replaced once it is
    /// fixed. See [`BackupConfig::dangerous_insecure_for_tests`].
    pub const DANGEROUS_INSECURE_FOR_TESTS: HashParams = HashParams {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
    /// The most memory accepted, in KiB (4 GiB), so that a tampered record cannot
    /// make verification allocate without bound.
    pub const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
    /// The most iterations accepted.
    pub const MAX_ITERATIONS: u32 = 64;
    /// The most lanes accepted.
    pub const MAX_PARALLELISM: u32 = 64;

    /// Checks and builds parameters: at least 8 KiB per lane, at least one
    /// iteration and one lane, and no more than the maxima above.
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    ) -> Result<HashParams, ConfigError> {
        if parallelism == 0 || parallelism > HashParams::MAX_PARALLELISM {
            return Err(ConfigError::HashParams(
                "parallelism must be between 1 and 64",
            ));
        }
        if iterations == 0 || iterations > HashParams::MAX_ITERATIONS {
            return Err(ConfigError::HashParams(
                "iterations must be between 1 and 64",
            ));
        }
        if memory_kib < 8 * parallelism || memory_kib > HashParams::MAX_MEMORY_KIB {
            return Err(ConfigError::HashParams(
                "memory must be at least 8 KiB per lane and at most 4 GiB",
            ));
        }
        Ok(HashParams {
            memory_kib,
            iterations,
            parallelism,
        })
    }

    /// Memory cost in KiB.
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Number of passes.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// Number of lanes.
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    /// Whether every cost is at least that of `minimum`.
    pub fn is_at_least(&self, minimum: &HashParams) -> bool {
        self.memory_kib >= minimum.memory_kib
            && self.iterations >= minimum.iterations
            && self.parallelism >= minimum.parallelism
    }

    /// One Argon2id evaluation in `memory`, which is zeroized afterwards and kept.
    fn hash_in(
        &self,
        code: &[u8],
        salt: &[u8; SALT_BYTES],
        memory: &mut HashMemory,
    ) -> Result<[u8; DIGEST_BYTES], Error> {
        let params = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(DIGEST_BYTES),
        )
        .map_err(|_| Error::Hashing("parameters rejected by argon2"))?;
        let blocks = memory.blocks(params.block_count())?;
        let mut digest = [0u8; DIGEST_BYTES];
        let hashed = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into_with_memory(code, salt, &mut digest, &mut *blocks)
            .map_err(|_| Error::Hashing("argon2 could not run"));
        blocks.iter_mut().for_each(Zeroize::zeroize);
        hashed?;
        Ok(digest)
    }
}

/// Argon2id's working memory (19 MiB with the OWASP parameters), kept between
/// evaluations: a thread that hashes often allocates it once, instead of
/// allocating and freeing it per code, which keeps the process's memory at
/// one block per hashing thread. It is zeroized after every use and when dropped.
///
/// ```
/// use twofold_backup::{BackupCodeSet, BackupConfig, BackupVerification, HashMemory};
///
/// let (set, codes) = BackupCodeSet::generate(&BackupConfig::default())?;
/// let mut memory = HashMemory::new(); // e.g. one per worker thread
/// let typed = set.hash_input_in(codes.iter().next().unwrap_or_default(), &mut memory)?;
/// assert_eq!(set.verify_hashed(&typed)?, BackupVerification::Matched { slot: 0 });
/// assert!(memory.bytes() >= 19 * 1024 * 1024); // kept for the next evaluation
/// # Ok::<(), twofold_backup::Error>(())
/// ```
#[derive(Default)]
pub struct HashMemory {
    blocks: Vec<Block>,
}

impl HashMemory {
    /// No memory yet: the first evaluation allocates it.
    pub fn new() -> HashMemory {
        HashMemory::default()
    }

    /// The bytes held.
    pub fn bytes(&self) -> usize {
        self.blocks.len() * Block::SIZE
    }

    /// Exactly `count` blocks: kept if that is what is held, allocated otherwise.
    fn blocks(&mut self, count: usize) -> Result<&mut [Block], Error> {
        if self.blocks.len() != count {
            self.blocks = Vec::new();
            self.blocks
                .try_reserve_exact(count)
                .map_err(|_| Error::Hashing("argon2's memory could not be allocated"))?;
            self.blocks.resize(count, Block::default());
        }
        Ok(&mut self.blocks)
    }
}

impl Drop for HashMemory {
    fn drop(&mut self) {
        self.blocks.iter_mut().for_each(Zeroize::zeroize);
    }
}

impl fmt::Debug for HashMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashMemory")
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl Default for HashParams {
    fn default() -> HashParams {
        HashParams::OWASP
    }
}

/// How sets are generated and which hashing parameters count as strong enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BackupConfig {
    count: usize,
    length: usize,
    hash: HashParams,
    minimum: HashParams,
}

impl BackupConfig {
    /// `count` codes of `length` symbols (5 bits each), hashed with OWASP's parameters.
    pub fn new(count: usize, length: usize) -> Result<BackupConfig, ConfigError> {
        if count == 0 || count > MAX_CODES {
            return Err(ConfigError::Count {
                count,
                max: MAX_CODES,
            });
        }
        if !(MIN_CODE_LENGTH..=MAX_CODE_LENGTH).contains(&length) {
            return Err(ConfigError::Length {
                length,
                min: MIN_CODE_LENGTH,
                max: MAX_CODE_LENGTH,
            });
        }
        Ok(BackupConfig {
            count,
            length,
            hash: HashParams::OWASP,
            minimum: HashParams::OWASP,
        })
    }

    /// The default configuration with [`HashParams::DANGEROUS_INSECURE_FOR_TESTS`]
    /// both for hashing and as the minimum: fast tests, **never production**.
    /// The name is meant to be found by a reviewer or a `grep` before release.
    ///
    /// ```
    /// use twofold_backup::{BackupCodeSet, BackupConfig};
    ///
    /// let test_config = BackupConfig::dangerous_insecure_for_tests();
    /// let (set, _codes) = BackupCodeSet::generate(&test_config)?;
    /// assert!(!set.needs_regeneration(&test_config));
    /// assert!(set.needs_regeneration(&BackupConfig::default())); // replaced once fixed
    /// # Ok::<(), twofold_backup::Error>(())
    /// ```
    pub fn dangerous_insecure_for_tests() -> BackupConfig {
        BackupConfig {
            hash: HashParams::DANGEROUS_INSECURE_FOR_TESTS,
            minimum: HashParams::DANGEROUS_INSECURE_FOR_TESTS,
            ..BackupConfig::default()
        }
    }

    /// Hash new sets with these parameters.
    #[must_use]
    pub fn with_hash_params(mut self, hash: HashParams) -> BackupConfig {
        self.hash = hash;
        self
    }

    /// Report sets hashed below these parameters as needing regeneration.
    #[must_use]
    pub fn with_minimum_hash_params(mut self, minimum: HashParams) -> BackupConfig {
        self.minimum = minimum;
        self
    }

    /// Codes per set.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Symbols per code.
    pub fn length(&self) -> usize {
        self.length
    }

    /// Bits of entropy per code.
    pub fn entropy_bits(&self) -> usize {
        self.length * BITS_PER_SYMBOL
    }

    /// The parameters new sets are hashed with.
    pub fn hash_params(&self) -> HashParams {
        self.hash
    }

    /// The parameters below which a set should be regenerated.
    pub fn minimum_hash_params(&self) -> HashParams {
        self.minimum
    }
}

impl Default for BackupConfig {
    /// Ten codes of ten symbols (50 bits each), Argon2id with OWASP's parameters.
    fn default() -> BackupConfig {
        BackupConfig {
            count: DEFAULT_COUNT,
            length: DEFAULT_LENGTH,
            hash: HashParams::OWASP,
            minimum: HashParams::OWASP,
        }
    }
}

/// The outcome of checking a typed code against a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackupVerification {
    /// The code is that of slot `slot`, which was unused.
    Matched {
        /// The slot index.
        slot: usize,
    },
    /// The code is that of slot `slot`, which was already used: the application
    /// can say "that code was already used".
    AlreadyUsed {
        /// The slot index.
        slot: usize,
    },
    /// The code is not in this set.
    NoMatch,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Slot {
    digest: [u8; DIGEST_BYTES],
    used: bool,
}

/// A typed code hashed under one set's salt and parameters, from
/// [`BackupCodeSet::hash_input`]. The digest is zeroized on drop and never printed.
#[derive(Clone)]
pub struct HashedInput {
    params: HashParams,
    length: usize,
    salt: [u8; SALT_BYTES],
    digest: Zeroizing<[u8; DIGEST_BYTES]>,
}

impl fmt::Debug for HashedInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashedInput")
            .field("params", &self.params)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// A set of one-time backup codes in its stored form: the Argon2id parameters,
/// one random salt, and one digest and a used flag per code. It holds no
/// plaintext; it is a value that the caller stores (see [`encode`](BackupCodeSet::encode))
/// and writes back after [`consume`](BackupCodeSet::consume), with a conditional
/// write so that two racing requests cannot both spend one code. This crate does no I/O.
///
/// ```
/// use twofold_backup::{BackupCodeSet, BackupConfig, BackupVerification, HashParams};
///
/// # let config = BackupConfig::default().with_hash_params(HashParams::new(64, 1, 1)?);
/// let (mut set, codes) = BackupCodeSet::generate(&config)?;
/// // Show `codes` to the user once; store `set.encode()`.
/// let first = codes.iter().next().unwrap_or_default();
/// assert_eq!(set.consume(first)?, BackupVerification::Matched { slot: 0 });
/// assert_eq!(set.consume(first)?, BackupVerification::AlreadyUsed { slot: 0 });
/// assert_eq!(set.remaining(), 9);
/// # Ok::<(), twofold_backup::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct BackupCodeSet {
    params: HashParams,
    length: usize,
    salt: [u8; SALT_BYTES],
    slots: Vec<Slot>,
}

impl fmt::Debug for BackupCodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackupCodeSet")
            .field("params", &self.params)
            .field("length", &self.length)
            .field("codes", &self.slots.len())
            .field("remaining", &self.remaining())
            .finish_non_exhaustive()
    }
}

impl BackupCodeSet {
    /// Generates a new set from the operating system's CSPRNG. The plaintext codes
    /// are returned this once; regenerating makes every earlier code worthless,
    /// because the new set has a new salt and new codes.
    #[cfg(feature = "std")]
    pub fn generate(config: &BackupConfig) -> Result<(BackupCodeSet, NewBackupCodes), Error> {
        BackupCodeSet::generate_with(config, &mut getrandom::SysRng)
    }

    /// Generates a new set from the given cryptographic RNG.
    pub fn generate_with<R: TryCryptoRng + ?Sized>(
        config: &BackupConfig,
        rng: &mut R,
    ) -> Result<(BackupCodeSet, NewBackupCodes), Error> {
        BackupCodeSet::generate_in(config, rng, &mut HashMemory::new())
    }

    /// [`generate_with`](Self::generate_with) in working memory the caller keeps
    /// between evaluations (one per code).
    pub fn generate_in<R: TryCryptoRng + ?Sized>(
        config: &BackupConfig,
        rng: &mut R,
        memory: &mut HashMemory,
    ) -> Result<(BackupCodeSet, NewBackupCodes), Error> {
        let mut salt = [0u8; SALT_BYTES];
        rng.try_fill_bytes(&mut salt).map_err(|_| Error::Random)?;
        let mut symbols: Vec<Zeroizing<Vec<u8>>> = Vec::with_capacity(config.count);
        while symbols.len() < config.count {
            let mut code = Zeroizing::new(alloc::vec![0u8; config.length]);
            rng.try_fill_bytes(&mut code).map_err(|_| Error::Random)?;
            for byte in code.iter_mut() {
                // 256 is a multiple of 32, so the low five bits are uniform.
                *byte = ALPHABET
                    .get(usize::from(*byte & 0x1f))
                    .copied()
                    .unwrap_or(b'0');
            }
            // Codes within a set are distinct, so that a code names one slot.
            if !symbols
                .iter()
                .any(|other| other.as_slice() == code.as_slice())
            {
                symbols.push(code);
            }
        }
        let mut slots = Vec::with_capacity(config.count);
        let mut codes = Vec::with_capacity(config.count);
        for code in &symbols {
            slots.push(Slot {
                digest: config.hash.hash_in(code, &salt, memory)?,
                used: false,
            });
            codes.push(BackupCode::new(grouped(code)));
        }
        let set = BackupCodeSet {
            params: config.hash,
            length: config.length,
            salt,
            slots,
        };
        Ok((set, NewBackupCodes::new(codes)))
    }

    /// Checks a typed code without changing the set.
    ///
    /// Bad input (too long, invalid characters, wrong length) is refused before
    /// any hashing. Otherwise exactly one Argon2id evaluation runs, whatever the
    /// size of the set, and its digest is compared in constant time with every
    /// slot. The same as [`verify_hashed`](Self::verify_hashed) after
    /// [`hash_input`](Self::hash_input).
    pub fn verify(&self, input: &str) -> Result<BackupVerification, Error> {
        self.verify_hashed(&self.hash_input(input)?)
    }

    /// The costly half of a verification: reads a typed code and runs the one
    /// Argon2id evaluation under this set's salt and parameters.
    ///
    /// A caller that writes conditionally hashes once, then checks the digest
    /// against each freshly read copy of the set with
    /// [`verify_hashed`](Self::verify_hashed) or
    /// [`consume_hashed`](Self::consume_hashed), which cost no hashing. Bad input
    /// is refused before any hashing.
    pub fn hash_input(&self, input: &str) -> Result<HashedInput, Error> {
        self.hash_input_in(input, &mut HashMemory::new())
    }

    /// [`hash_input`](Self::hash_input) in working memory the caller keeps
    /// between evaluations.
    pub fn hash_input_in(
        &self,
        input: &str,
        memory: &mut HashMemory,
    ) -> Result<HashedInput, Error> {
        let wrong_length = |found| InputError::WrongLength {
            expected: self.length,
            found,
        };
        let code = NormalizedCode::parse(input).map_err(|error| match error {
            InputError::WrongLength { found, .. } => wrong_length(found),
            other => other,
        })?;
        if code.len() != self.length {
            return Err(wrong_length(code.len()).into());
        }
        Ok(HashedInput {
            params: self.params,
            length: self.length,
            salt: self.salt,
            digest: Zeroizing::new(self.params.hash_in(code.as_bytes(), &self.salt, memory)?),
        })
    }

    /// Checks a code hashed by [`hash_input`](Self::hash_input), without hashing
    /// and without changing the set: the digest is compared in constant time
    /// with every slot. Fails with [`Error::OtherSet`] if it was hashed for
    /// another set (another salt, parameters or code length).
    pub fn verify_hashed(&self, hashed: &HashedInput) -> Result<BackupVerification, Error> {
        if hashed.salt != self.salt || hashed.params != self.params || hashed.length != self.length
        {
            return Err(Error::OtherSet);
        }
        let digest = &*hashed.digest;
        let mut matched_slot = 0u64;
        let mut found = Choice::from(0);
        let mut used = Choice::from(0);
        for (index, slot) in (0u64..).zip(&self.slots) {
            let equal = slot.digest.ct_eq(digest);
            matched_slot.conditional_assign(&index, equal);
            used.conditional_assign(&Choice::from(u8::from(slot.used)), equal);
            found |= equal;
        }
        let slot = usize::try_from(matched_slot).unwrap_or(usize::MAX);
        Ok(match (bool::from(found), bool::from(used)) {
            (false, _) => BackupVerification::NoMatch,
            (true, false) => BackupVerification::Matched { slot },
            (true, true) => BackupVerification::AlreadyUsed { slot },
        })
    }

    /// Checks a typed code and, if it matches an unused slot, marks that slot used.
    /// Store the set afterwards (conditionally) for the consumption to count.
    pub fn consume(&mut self, input: &str) -> Result<BackupVerification, Error> {
        let hashed = self.hash_input(input)?;
        self.consume_hashed(&hashed)
    }

    /// [`consume`](Self::consume) for a code hashed by
    /// [`hash_input`](Self::hash_input): no hashing.
    pub fn consume_hashed(&mut self, hashed: &HashedInput) -> Result<BackupVerification, Error> {
        let outcome = self.verify_hashed(hashed)?;
        if let BackupVerification::Matched { slot } = outcome {
            self.mark_used(slot)?;
        }
        Ok(outcome)
    }

    /// Marks slot `slot` used, for callers that verified first.
    pub fn mark_used(&mut self, slot: usize) -> Result<(), Error> {
        let entry = self.slots.get_mut(slot).ok_or(Error::NoSuchSlot { slot })?;
        entry.used = true;
        Ok(())
    }

    /// The number of unused codes.
    pub fn remaining(&self) -> usize {
        self.slots.iter().filter(|slot| !slot.used).count()
    }

    /// Whether `remaining()` is at or below `threshold` (see [`DEFAULT_LOW_THRESHOLD`]),
    /// so the application can suggest generating a new set.
    pub fn is_low(&self, threshold: usize) -> bool {
        self.remaining() <= threshold
    }

    /// The number of codes, used or not.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the set has no codes (never, for a generated or decoded set).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether slot `slot` is used, or `None` if there is no such slot.
    pub fn is_used(&self, slot: usize) -> Option<bool> {
        self.slots.get(slot).map(|slot| slot.used)
    }

    /// Symbols per code.
    pub fn code_length(&self) -> usize {
        self.length
    }

    /// The Argon2id parameters this set was hashed with.
    pub fn hash_params(&self) -> HashParams {
        self.params
    }

    /// Whether this set was hashed below `config`'s minimum parameters, or with
    /// shorter codes than `config` asks for: then the application should offer
    /// the user a new set.
    pub fn needs_regeneration(&self, config: &BackupConfig) -> bool {
        !self.params.is_at_least(&config.minimum) || self.length < config.length
    }

    /// The stored form: a versioned text record with the parameters, the salt and
    /// each slot's digest and used flag, in standard unpadded base64. For example:
    ///
    /// `twofold-backup-v1$argon2id$v=19$m=19456,t=2,p=1$l=10$<salt>$+<digest>,-<digest>,…`
    ///
    /// (`+` marks an unused slot, `-` a used one.)
    pub fn encode(&self) -> String {
        let mut out = alloc::format!(
            "{FORMAT}$argon2id$v=19$m={},t={},p={}$l={}${}$",
            self.params.memory_kib,
            self.params.iterations,
            self.params.parallelism,
            self.length,
            Base64Unpadded::encode_string(&self.salt),
        );
        for (index, slot) in self.slots.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push(if slot.used { '-' } else { '+' });
            out.push_str(&Base64Unpadded::encode_string(&slot.digest));
        }
        out
    }

    /// Reads a stored set, checking every field, so that a corrupt or tampered
    /// record is a typed error and never a panic or an unbounded hash.
    pub fn decode(text: &str) -> Result<BackupCodeSet, DecodeError> {
        if text.len() > MAX_ENCODED_BYTES {
            return Err(DecodeError::TooLong {
                max_bytes: MAX_ENCODED_BYTES,
            });
        }
        let invalid = |field, reason| DecodeError::Invalid { field, reason };
        let mut fields = text.split('$');
        if fields.next() != Some(FORMAT) {
            return Err(DecodeError::UnsupportedFormat { expected: FORMAT });
        }
        let mut field = |name| fields.next().ok_or(invalid(name, "missing"));
        if field("algorithm")? != "argon2id" {
            return Err(invalid("algorithm", "expected argon2id"));
        }
        if field("version")? != "v=19" {
            return Err(invalid("version", "expected v=19"));
        }
        let params = parse_params(field("parameters")?).ok_or(invalid(
            "parameters",
            "expected m=<KiB>,t=<passes>,p=<lanes> in range",
        ))?;
        let length = field("length")?
            .strip_prefix("l=")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (MIN_CODE_LENGTH..=MAX_CODE_LENGTH).contains(n))
            .ok_or(invalid("length", "expected l=<symbols> between 4 and 32"))?;
        let mut salt = [0u8; SALT_BYTES];
        decode_exact(field("salt")?, &mut salt)
            .ok_or(invalid("salt", "expected 16 bytes of unpadded base64"))?;
        let slot_text = field("slots")?;
        if fields.next().is_some() {
            return Err(invalid("slots", "unexpected trailing field"));
        }
        let mut slots: Vec<Slot> = Vec::new();
        for entry in slot_text.split(',') {
            if slots.len() == MAX_CODES {
                return Err(invalid("slots", "more than 100 slots"));
            }
            let (used, digest_text) = if let Some(rest) = entry.strip_prefix('+') {
                (false, rest)
            } else if let Some(rest) = entry.strip_prefix('-') {
                (true, rest)
            } else {
                return Err(invalid("slots", "each slot starts with + or -"));
            };
            let mut digest = [0u8; DIGEST_BYTES];
            decode_exact(digest_text, &mut digest).ok_or(invalid(
                "slots",
                "expected 32 bytes of unpadded base64 per slot",
            ))?;
            if slots.iter().any(|slot| slot.digest == digest) {
                return Err(invalid("slots", "two slots have the same digest"));
            }
            slots.push(Slot { digest, used });
        }
        Ok(BackupCodeSet {
            params,
            length,
            salt,
            slots,
        })
    }
}

fn parse_params(text: &str) -> Option<HashParams> {
    let mut parts = text.split(',');
    let mut number = |key: &str| {
        parts
            .next()?
            .strip_prefix(key)?
            .strip_prefix('=')?
            .parse::<u32>()
            .ok()
    };
    let (m, t, p) = (number("m")?, number("t")?, number("p")?);
    if parts.next().is_some() {
        return None;
    }
    HashParams::new(m, t, p).ok()
}

/// Decodes unpadded base64 into exactly `out.len()` bytes.
fn decode_exact(text: &str, out: &mut [u8]) -> Option<()> {
    let expected = out.len();
    match Base64Unpadded::decode(text, out) {
        Ok(decoded) if decoded.len() == expected => Some(()),
        _ => None,
    }
}
