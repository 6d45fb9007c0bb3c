//! Password hashing (argon2id, PHC strings) and the password policy.
//!
//! Every policy refuses what a guesser tries first: passwords from a bundled list of common ones
//! (`config/common-passwords.txt`, where it comes from is written at its top), the username,
//! passwords that are mostly one character, and runs of neighbouring keys or consecutive letters
//! and digits (`qwertyuiop`, `1qaz2wsx3edc`, `abcdef1234`). Refusals are in Chinese and English.

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// How strong a password must be. Both refuse common and trivial passwords (module docs).
/// `Default`: at least 10 characters of at least two kinds (lower case, upper case, digits,
/// symbols). `Mlps`: for deployments under 等保 (MLPS 2.0): at least 10 characters with upper and
/// lower case, a digit and a symbol, and a new password every 90 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordPolicy {
    #[default]
    Default,
    Mlps,
}

pub const MIN_LENGTH: usize = 10;
pub const MLPS_MAX_AGE_DAYS: i64 = 90;
/// The kinds of character (lower case, upper case, digits, anything else) a `default` password
/// mixes at least.
pub const DEFAULT_MIN_KINDS: usize = 2;

/// The bundled list of common passwords.
const COMMON_PASSWORDS: &str = include_str!("../../../config/common-passwords.txt");

impl PasswordPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "default" => Some(Self::Default),
            "mlps" => Some(Self::Mlps),
            _ => None,
        }
    }

    /// Why `password` is refused for the account `username`, if it is: one sentence in Chinese,
    /// then in English.
    pub fn check(self, password: &str, username: &str) -> Result<(), String> {
        let len = password.chars().count();
        if len < MIN_LENGTH {
            return Err(format!(
                "密码至少需要 {MIN_LENGTH} 个字符（现有 {len} 个） / the password must have at least {MIN_LENGTH} characters (it has {len})"
            ));
        }
        match self {
            Self::Mlps => {
                let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
                let mut missing = Vec::new();
                if !has(char::is_ascii_uppercase) {
                    missing.push(("大写字母", "an upper-case letter"));
                }
                if !has(char::is_ascii_lowercase) {
                    missing.push(("小写字母", "a lower-case letter"));
                }
                if !has(char::is_ascii_digit) {
                    missing.push(("数字", "a digit"));
                }
                if !has(|c| !c.is_alphanumeric() && !c.is_whitespace()) {
                    missing.push(("符号", "a symbol"));
                }
                if !missing.is_empty() {
                    let zh: Vec<&str> = missing.iter().map(|m| m.0).collect();
                    let en: Vec<&str> = missing.iter().map(|m| m.1).collect();
                    return Err(format!(
                        "密码策略（等保）要求包含{} / the password policy (mlps) needs {}",
                        zh.join("、"),
                        en.join(", ")
                    ));
                }
            }
            Self::Default => {
                if kinds(password) < DEFAULT_MIN_KINDS {
                    return Err(format!(
                        "密码须混合至少两类字符：小写字母、大写字母、数字、符号 / the password needs at least {DEFAULT_MIN_KINDS} kinds of characters: lower-case letters, upper-case letters, digits, symbols"
                    ));
                }
            }
        }
        trivial(password, username)
    }

    /// The age after which a password must be changed, if any.
    pub fn max_age_days(self) -> Option<i64> {
        match self {
            Self::Default => None,
            Self::Mlps => Some(MLPS_MAX_AGE_DAYS),
        }
    }
}

/// How many kinds of character `password` has: ASCII lower case, ASCII upper case, digits, and
/// anything else (symbols, spaces, other scripts).
fn kinds(password: &str) -> usize {
    let mut seen = [false; 4];
    for c in password.chars() {
        let kind = if c.is_ascii_lowercase() {
            0
        } else if c.is_ascii_uppercase() {
            1
        } else if c.is_ascii_digit() {
            2
        } else {
            3
        };
        seen[kind] = true;
    }
    seen.iter().filter(|k| **k).count()
}

/// What every policy refuses, whatever characters it has: the username, a common password, mostly
/// one character, too few different characters, a run of neighbouring keys or consecutive
/// characters.
fn trivial(password: &str, username: &str) -> Result<(), String> {
    let lower = password.to_lowercase();
    let core = strip_ends(&lower);
    let name = username.trim().to_lowercase();
    if !name.is_empty() {
        let reversed: String = name.chars().rev().collect();
        if [lower.as_str(), core]
            .iter()
            .any(|p| *p == name || *p == reversed)
        {
            return Err("密码不能是用户名 / the password must not be the username".to_owned());
        }
    }
    if is_common(&lower) {
        return Err(
            "这是常见密码，很容易被猜中，请换一个 / this is a commonly used password and easy to guess; choose another"
                .to_owned(),
        );
    }
    let chars: Vec<char> = lower.chars().collect();
    let distinct: HashSet<char> = chars.iter().copied().collect();
    let most = distinct
        .iter()
        .map(|d| chars.iter().filter(|c| *c == d).count())
        .max()
        .unwrap_or(0);
    // The shortest unit the password repeats (`Ab1!Ab1!Ab1!` repeats `ab1!`).
    let period = (1..=chars.len())
        .find(|d| (*d..chars.len()).all(|i| chars[i] == chars[i - d]))
        .unwrap_or(chars.len());
    if most * 2 > chars.len() || distinct.len() < 4 || period * 2 <= chars.len() {
        return Err(
            "密码不能主要由同一个或少数几个字符组成 / the password must not be mostly one character or a few characters repeated"
                .to_owned(),
        );
    }
    // Runs: count neighbouring pairs that are one step apart (the same key, the next letter or
    // digit, a key beside or below on the keyboard). A password of at most two or three runs
    // (`qwerty1234`, `1qaz2wsx3edc`) has three quarters of its pairs such steps.
    let pairs = chars.len().saturating_sub(1);
    let steps = chars.windows(2).filter(|w| step(w[0], w[1])).count();
    if pairs > 0 && steps * 4 >= pairs * 3 {
        return Err(
            "密码不能是键盘上相邻的键或连续的字母、数字（如 qwerty、1qaz2wsx、abcdef、123456） / the password must not be a run of neighbouring keys or of consecutive letters or digits (like qwerty, 1qaz2wsx, abcdef, 123456)"
                .to_owned(),
        );
    }
    Ok(())
}

/// `p` without the digits, symbols and spaces at either end: `password12` → `password`.
fn strip_ends(p: &str) -> &str {
    p.trim_matches(|c: char| !c.is_alphabetic())
}

/// Undoes the usual letter-for-digit swaps: `p@ssw0rd` → `password`.
fn unleet(p: &str) -> String {
    p.chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            other => other,
        })
        .collect()
}

/// The common passwords, lower case, as listed and with their swaps undone.
fn common_set() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .flat_map(|l| [l.to_lowercase(), unleet(&l.to_lowercase())])
            .collect()
    })
}

/// Whether the lower-cased `p` is a common password: itself, without symbols at its ends, without
/// digits and symbols at its ends (when three letters or more remain), or with its swaps undone.
fn is_common(p: &str) -> bool {
    let set = common_set();
    let core = strip_ends(p);
    let symbols_off = p.trim_matches(|c: char| !c.is_alphanumeric());
    let mut candidates = vec![p.to_owned(), unleet(p), symbols_off.to_owned()];
    if core.chars().count() >= 3 {
        candidates.push(core.to_owned());
        candidates.push(unleet(core));
        candidates.push(strip_ends(&unleet(p)).to_owned());
    }
    candidates.iter().any(|c| set.contains(c))
}

/// Row and column of a key on a US keyboard (shifted symbols on their keys).
fn key(c: char) -> Option<(usize, usize)> {
    const ROWS: [&str; 4] = [
        "`1234567890-=",
        "qwertyuiop[]\\",
        "asdfghjkl;'",
        "zxcvbnm,./",
    ];
    const SHIFTED: [&str; 4] = [
        "~!@#$%^&*()_+",
        "QWERTYUIOP{}|",
        "ASDFGHJKL:\"",
        "ZXCVBNM<>?",
    ];
    ROWS.iter()
        .zip(SHIFTED)
        .enumerate()
        .find_map(|(r, (row, shifted))| {
            row.chars()
                .position(|k| k == c)
                .or_else(|| shifted.chars().position(|k| k == c))
                .map(|j| (r, j))
        })
}

/// One step of a run: the same character, the next or previous letter or digit, or a key beside
/// it or in the row below or above (each row sits half a key to the right of the one above).
fn step(a: char, b: char) -> bool {
    if a == b {
        return true;
    }
    let consecutive = (a.is_ascii_alphabetic() && b.is_ascii_alphabetic()
        || a.is_ascii_digit() && b.is_ascii_digit())
        && (u32::from(a)).abs_diff(u32::from(b)) == 1;
    if consecutive {
        return true;
    }
    match (key(a), key(b)) {
        (Some((ra, ja)), Some((rb, jb))) => {
            if (ra, ja) == (rb, jb) {
                true
            } else if ra == rb {
                ja.abs_diff(jb) == 1
            } else if ra.abs_diff(rb) == 1 {
                let ((_, upper), (_, lower)) = if ra < rb {
                    ((ra, ja), (rb, jb))
                } else {
                    ((rb, jb), (ra, ja))
                };
                lower == upper || lower + 1 == upper
            } else {
                false
            }
        }
        _ => false,
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
    fn the_default_policy_wants_ten_characters_of_two_kinds() {
        let err = PasswordPolicy::Default
            .check("Sh0rt!", "someone")
            .unwrap_err();
        assert!(
            err.contains("at least 10 characters") && err.contains("至少"),
            "{err}"
        );
        let err = PasswordPolicy::Default
            .check("longenough", "someone")
            .unwrap_err();
        assert!(err.contains("kinds of characters"), "{err}");
        assert!(
            PasswordPolicy::Default
                .check("Longenough", "someone")
                .is_ok()
        );
        assert!(
            PasswordPolicy::Default
                .check("river stone 7", "someone")
                .is_ok()
        );
    }

    #[test]
    fn the_mlps_policy_wants_four_classes() {
        let err = PasswordPolicy::Mlps
            .check("longenough", "someone")
            .unwrap_err();
        assert!(err.contains("upper-case") && err.contains("digit") && err.contains("symbol"));
        assert!(err.contains("大写字母"), "{err}");
        assert!(PasswordPolicy::Mlps.check("Qapqal-2024", "someone").is_ok());
        assert_eq!(PasswordPolicy::Mlps.max_age_days(), Some(90));
    }

    #[test]
    fn common_and_trivial_passwords_are_refused_by_every_policy() {
        for policy in [PasswordPolicy::Default, PasswordPolicy::Mlps] {
            for (weak, why) in [
                ("password12", "commonly used"),
                ("Password123!", "commonly used"),
                ("P@ssw0rd2024", "commonly used"),
                ("Iloveyou!!!", "commonly used"),
                ("Woaini1314!", "commonly used"),
                ("qwerty12345", "commonly used"),
                ("Wertyuiop[]8", "run of"),
                ("1qaz@WSX3edc", "run of"),
                ("Abcdefgh12!", "run of"),
                ("0987654321Z", "run of"),
                ("7Xcvbnm,./;", "run of"),
                ("Aaaaaaaaaa1!", "mostly one character"),
                ("Ab1!Ab1!Ab1!", "a few characters repeated"),
                ("Zhang.Wei-77", "username"),
                ("77-Iew.Gnahz", "username"),
            ] {
                let err = policy.check(weak, "zhang.wei-77").unwrap_err();
                // mlps asks for its four kinds first.
                if !err.contains("(mlps)") {
                    assert!(err.contains(why), "{policy:?} {weak}: {err}");
                }
            }
        }
        // Not the username: mixing it into something longer is allowed.
        assert!(
            PasswordPolicy::Default
                .check("Admin-Passw0rd!", "admin")
                .is_ok()
        );
        let err = PasswordPolicy::Default
            .check("admin-2024", "admin")
            .unwrap_err();
        assert!(err.contains("username") && err.contains("用户名"), "{err}");
        let err = PasswordPolicy::Default
            .check("aaaaaaaaaa", "x")
            .unwrap_err();
        assert!(err.contains("kinds"), "{err}");
        let err = PasswordPolicy::Default
            .check("aaaaaaaaa1", "x")
            .unwrap_err();
        assert!(err.contains("one character"), "{err}");
        let err = PasswordPolicy::Default
            .check("password12", "x")
            .unwrap_err();
        assert!(
            err.contains("commonly used") && err.contains("常见密码"),
            "{err}"
        );
    }

    #[test]
    fn the_bundled_list_is_read_whole() {
        // The Openwall list alone has 3,546 entries (3,411 different in lower case).
        assert!(common_set().len() > 3_400, "{}", common_set().len());
        assert!(is_common("123456789") && is_common("password") && is_common("woaini1314"));
    }

    #[test]
    fn ordinary_passwords_pass() {
        for ok in [
            "Qapqal-2024",
            "Test-Passw0rd!",
            "Serve-Test-2024",
            "Long-enough-1",
            "Fresh-Passw0rd",
            "N3w-Str0ng-Passw0rd",
            "correct horse battery 9",
            "察布查尔-2024-春",
        ] {
            assert_eq!(PasswordPolicy::Default.check(ok, "someone"), Ok(()), "{ok}");
        }
    }

    #[test]
    fn generated_passwords_pass_the_strictest_policy() {
        for _ in 0..20 {
            let p = generate();
            assert_eq!(PasswordPolicy::Mlps.check(&p, "admin"), Ok(()), "{p}");
        }
    }
}
