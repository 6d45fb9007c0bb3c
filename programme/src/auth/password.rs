//! Password hashing (argon2id, PHC strings) and the password policy.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// How strong a password must be. `Default`: at least 10 characters. `Mlps`: for deployments
/// under 等保 (MLPS 2.0): at least 10 characters with upper and lower case, a digit and a
/// symbol, and a new password every 90 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordPolicy {
    #[default]
    Default,
    Mlps,
}

pub const MIN_LENGTH: usize = 10;
pub const MLPS_MAX_AGE_DAYS: i64 = 90;

impl PasswordPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "default" => Some(Self::Default),
            "mlps" => Some(Self::Mlps),
            _ => None,
        }
    }

    /// Why `password` is refused, if it is.
    pub fn check(self, password: &str) -> Result<(), String> {
        let len = password.chars().count();
        if len < MIN_LENGTH {
            return Err(format!(
                "the password must have at least {MIN_LENGTH} characters (it has {len})"
            ));
        }
        if self == Self::Mlps {
            let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
            let mut missing = Vec::new();
            if !has(char::is_ascii_uppercase) {
                missing.push("an upper-case letter");
            }
            if !has(char::is_ascii_lowercase) {
                missing.push("a lower-case letter");
            }
            if !has(char::is_ascii_digit) {
                missing.push("a digit");
            }
            if !has(|c| !c.is_alphanumeric() && !c.is_whitespace()) {
                missing.push("a symbol");
            }
            if !missing.is_empty() {
                return Err(format!(
                    "the password policy (mlps) needs {}",
                    missing.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The age after which a password must be changed, if any.
    pub fn max_age_days(self) -> Option<i64> {
        match self {
            Self::Default => None,
            Self::Mlps => Some(MLPS_MAX_AGE_DAYS),
        }
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash that no password matches, verified against when the user does not exist so that
/// the time taken does not tell whether it does.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("no user has this password").unwrap_or_default())
}

/// A random password that passes every policy: 16 characters of mixed classes.
pub fn generate() -> String {
    const SETS: [&[u8]; 4] = [
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"abcdefghijkmnopqrstuvwxyz",
        b"23456789",
        b"-_.!@#%+=",
    ];
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let set = SETS[i % SETS.len()];
            char::from(set[usize::from(*b) % set.len()])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("Qapqal-2024").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Qapqal-2024", &h));
        assert!(!verify("qapqal-2024", &h));
        assert!(!verify("Qapqal-2024", "not a hash"));
    }

    #[test]
    fn the_default_policy_wants_ten_characters() {
        assert!(PasswordPolicy::Default.check("short").is_err());
        assert!(PasswordPolicy::Default.check("longenough").is_ok());
    }

    #[test]
    fn the_mlps_policy_wants_four_classes() {
        let err = PasswordPolicy::Mlps.check("longenough").unwrap_err();
        assert!(err.contains("upper-case") && err.contains("digit") && err.contains("symbol"));
        assert!(PasswordPolicy::Mlps.check("Qapqal-2024").is_ok());
        assert_eq!(PasswordPolicy::Mlps.max_age_days(), Some(90));
    }

    #[test]
    fn generated_passwords_pass_the_strictest_policy() {
        for _ in 0..20 {
            assert!(PasswordPolicy::Mlps.check(&generate()).is_ok());
        }
    }
}
