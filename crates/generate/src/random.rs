//! Unbiased random numbers from the operating system's CSPRNG (through aws-lc-rs, as
//! `scaivault-crypto` does), nothing else: no userspace PRNG, no seeding, no `rand` crate.
//!
//! Why this matters: a password drawn with `byte % n` favours the first `256 % n` characters
//! (for a 62-character alphabet, 8 characters appear 25% more often than the rest). Every
//! index here is drawn by rejection sampling instead, so each of the `n` values is exactly
//! equally likely; the statistical tests in `string.rs` check it and check that the checker
//! catches modulo bias.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::GenerateError;

/// Bytes fetched from the OS per refill; the buffer holds secret material and is zeroized.
const BUFFER_BYTES: usize = 512;

/// A buffered reader of OS randomness. Create one per generation; never shared.
pub(crate) struct Rng {
    system: SystemRandom,
    buffer: Zeroizing<[u8; BUFFER_BYTES]>,
    /// Next unread byte of `buffer`; `BUFFER_BYTES` when empty.
    position: usize,
}

impl Rng {
    pub fn new() -> Self {
        Self {
            system: SystemRandom::new(),
            buffer: Zeroizing::new([0u8; BUFFER_BYTES]),
            position: BUFFER_BYTES,
        }
    }

    /// Fills `out` directly from the OS.
    pub fn fill(&mut self, out: &mut [u8]) -> Result<(), GenerateError> {
        self.system.fill(out).map_err(|_| GenerateError::Random)
    }

    pub fn next_u32(&mut self) -> Result<u32, GenerateError> {
        if self.position + 4 > BUFFER_BYTES {
            self.system
                .fill(&mut self.buffer[..])
                .map_err(|_| GenerateError::Random)?;
            self.position = 0;
        }
        let mut word = [0u8; 4];
        word.copy_from_slice(&self.buffer[self.position..self.position + 4]);
        // Consumed bytes are wiped at once so the buffer never holds a value already used.
        self.buffer[self.position..self.position + 4].fill(0);
        self.position += 4;
        Ok(u32::from_le_bytes(word))
    }

    /// A uniformly distributed integer in `0..n` (`n >= 1`).
    ///
    /// Draws 32-bit words and rejects those at or above the largest multiple of `n` that fits,
    /// so every residue has exactly the same number of preimages. At most half the draws are
    /// rejected (usually far fewer), so the expected number of draws is below 2.
    pub fn below(&mut self, n: u32) -> Result<u32, GenerateError> {
        if n == 0 {
            return Err(GenerateError::Internal("below(0)"));
        }
        let n = u64::from(n);
        let space = 1u64 << 32;
        let limit = space - space % n;
        loop {
            let x = u64::from(self.next_u32()?);
            if x < limit {
                return u32::try_from(x % n).map_err(|_| GenerateError::Internal("below"));
            }
        }
    }

    /// A uniformly distributed index into a slice of `len` elements (`1..=u32::MAX`).
    pub fn index(&mut self, len: usize) -> Result<usize, GenerateError> {
        let n = u32::try_from(len).map_err(|_| GenerateError::Internal("index range"))?;
        Ok(self.below(n)? as usize)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::stats::{chi_square, critical_value};

    #[test]
    fn below_stays_in_range_for_edge_sizes() {
        let mut rng = Rng::new();
        for n in [1u32, 2, 3, 7, 255, 256, 257, 7776, 1 << 31, u32::MAX] {
            for _ in 0..200 {
                assert!(rng.below(n).unwrap() < n);
            }
        }
        assert_eq!(rng.below(1).unwrap(), 0);
        assert!(rng.below(0).is_err());
    }

    /// Sizes that do not divide 2^32 (where a modulo would be biased) come out uniform.
    #[test]
    fn below_is_uniform_for_awkward_sizes() {
        let mut rng = Rng::new();
        for (n, draws) in [(3u32, 30_000usize), (62, 124_000), (7776, 777_600)] {
            let mut counts = vec![0u64; n as usize];
            for _ in 0..draws {
                counts[rng.below(n).unwrap() as usize] += 1;
            }
            let statistic = chi_square(&counts);
            let critical = critical_value(n as usize - 1);
            assert!(
                statistic < critical,
                "n = {n}: chi-square {statistic:.1} >= critical {critical:.1}"
            );
        }
    }
}
