//! Byte-level mutations, as AFL's "havoc" stage stacks them: bit flips, random and interesting
//! bytes, insertions, deletions, duplicated and swapped chunks, long runs, tokens of the target's
//! dictionary, interesting numbers written as text, splices with another input of the corpus and
//! truncation. Every choice comes from one seeded ChaCha8 generator, so a run is repeatable from
//! its seed.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Numbers that sit on the edges parsers get wrong: zero, signs, Excel's serial 60 (the phantom
/// 1900-02-29) and the last serial (9999-12-31), integer widths, huge and tiny floats.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "59",
    "60",
    "61",
    "2958465",
    "2958466",
    "9999",
    "10000",
    "127",
    "128",
    "255",
    "256",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1e308",
    "1e309",
    "-1e309",
    "4.9e-324",
    "0.000001",
    "NaN",
    "inf",
    "999999999999999999999999999999",
    "1.5",
    "0x10",
];

/// Bytes that are special somewhere: NUL, controls, the delimiters, quotes, the top of ASCII,
/// a UTF-8 continuation byte, a GBK lead byte, bytes valid in neither encoding.
const BYTES: &[u8] = &[
    0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F, b' ', b'"', b'\'', b',', b';', b'=', b'-', b'+', b'@',
    b'0', b'9', b'X', 0x7F, 0x80, 0x81, 0xA1, 0xBF, 0xC0, 0xE4, 0xEF, 0xF0, 0xFE, 0xFF,
];

/// Mutates inputs of one target.
pub struct Mutator {
    rng: ChaCha8Rng,
    dict: Vec<Vec<u8>>,
    max_len: usize,
}

impl Mutator {
    /// A mutator seeded with `seed`, using `dict` (the target's tokens) and keeping inputs at
    /// most `max_len` bytes long.
    pub fn new(seed: u64, dict: Vec<Vec<u8>>, max_len: usize) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            dict,
            max_len,
        }
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.rng.random_range(0..n)
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// Mutates `input` in place with one to eight stacked mutations; `other` is another input of
    /// the corpus for splicing.
    pub fn mutate(&mut self, input: &mut Vec<u8>, other: &[u8]) {
        let rounds = 1 << self.below(4);
        for _ in 0..rounds {
            self.once(input, other);
        }
        input.truncate(self.max_len);
    }

    fn once(&mut self, input: &mut Vec<u8>, other: &[u8]) {
        let len = input.len();
        match self.below(13) {
            // Flip one bit.
            0 if len > 0 => {
                let at = self.below(len);
                input[at] ^= 1 << self.below(8);
            }
            // A random byte.
            1 if len > 0 => {
                let at = self.below(len);
                input[at] = self.rng.random();
            }
            // An interesting byte.
            2 if len > 0 => {
                let at = self.below(len);
                input[at] = BYTES[self.below(BYTES.len())];
            }
            // Insert one to four random bytes.
            3 => {
                let at = self.below(len + 1);
                let n = 1 + self.below(4);
                let bytes: Vec<u8> = (0..n).map(|_| self.rng.random()).collect();
                input.splice(at..at, bytes);
            }
            // Delete a range.
            4 if len > 0 => {
                let at = self.below(len);
                let n = 1 + self.below((len - at).min(32));
                input.drain(at..at + n);
            }
            // Duplicate a chunk somewhere else.
            5 if len > 0 => {
                let (from, n) = self.chunk(len);
                let chunk = input[from..from + n].to_vec();
                let at = self.below(len + 1);
                input.splice(at..at, chunk);
            }
            // Swap two bytes.
            6 if len > 1 => {
                let (a, b) = (self.below(len), self.below(len));
                input.swap(a, b);
            }
            // A long run of one byte (quadratic behaviour, buffer edges).
            7 => {
                let at = self.below(len + 1);
                let byte = if len > 0 && self.chance(0.5) {
                    input[self.below(len)]
                } else {
                    BYTES[self.below(BYTES.len())]
                };
                let n = 16 << self.below(7);
                input.splice(at..at, std::iter::repeat_n(byte, n));
            }
            // Insert a token of the dictionary.
            8 if !self.dict.is_empty() => {
                let k = self.below(self.dict.len());
                let token = self.dict[k].clone();
                let at = self.below(len + 1);
                input.splice(at..at, token);
            }
            // Overwrite with a token of the dictionary.
            9 if !self.dict.is_empty() && len > 0 => {
                let k = self.below(self.dict.len());
                let token = self.dict[k].clone();
                let at = self.below(len);
                let end = (at + token.len()).min(len);
                input.splice(at..end, token);
            }
            // Replace a run of digits (or insert) with an interesting number.
            10 => {
                let number = NUMBERS[self.below(NUMBERS.len())].as_bytes();
                let at = self.below(len + 1);
                let end = at
                    + input[at..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit() || **b == b'.')
                        .count();
                input.splice(at..end, number.iter().copied());
            }
            // Splice: a prefix of this input and a suffix of the other, or a chunk of the other.
            11 if !other.is_empty() => {
                if self.chance(0.5) {
                    let cut = self.below(len + 1);
                    let from = self.below(other.len());
                    input.truncate(cut);
                    input.extend_from_slice(&other[from..]);
                } else {
                    let (from, n) = self.chunk(other.len());
                    let at = self.below(len + 1);
                    input.splice(at..at, other[from..from + n].iter().copied());
                }
            }
            // Truncate.
            12 if len > 0 => {
                let at = self.below(len);
                input.truncate(at);
            }
            _ => {
                let at = self.below(len + 1);
                input.insert(at, self.rng.random());
            }
        }
    }

    /// A chunk of a `len`-byte input (`len` > 0): start and length (1 to 64 bytes).
    fn chunk(&mut self, len: usize) -> (usize, usize) {
        let from = self.below(len);
        let n = 1 + self.below((len - from).min(64));
        (from, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_mutates_the_same_way_and_inputs_stay_within_the_bound() {
        let run = |seed| {
            let mut m = Mutator::new(seed, vec![b"TOKEN".to_vec()], 256);
            let mut input = b"2024-03-05".to_vec();
            let mut seen = Vec::new();
            for _ in 0..2000 {
                m.mutate(&mut input, b"other,input\r\n");
                assert!(input.len() <= 256);
                if input.is_empty() {
                    input = b"x".to_vec();
                }
                seen.push(input.clone());
            }
            seen
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
