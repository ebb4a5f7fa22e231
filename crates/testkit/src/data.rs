//! Test data: recognisable bytes and a cheap checksum to compare them, so that a swapped,
//! shifted or corrupted buffer is caught without printing megabytes.

/// FNV-1a 64 of `data`: equal contents, equal sums (a mismatch prints two numbers, not two buffers).
pub fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The byte at `at` of [`pattern`] data: a period of 251 (a prime), so that data shifted by a
/// power of two (a page, a header) never matches.
pub fn pattern_byte(at: usize) -> u8 {
    (at % 251) as u8
}

/// `len` bytes of [`pattern_byte`], from offset 0.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(pattern_byte).collect()
}
