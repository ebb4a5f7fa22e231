//! The crate's one error type.

/// Why memory could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A buffer of this length cannot be made.
    #[error("cannot allocate {len} bytes: {why}")]
    BadLength { len: usize, why: &'static str },
    /// No size class of the pool holds `len` bytes.
    #[error("{len} bytes is more than the pool's largest lease ({max} bytes)")]
    TooLarge { len: usize, max: usize },
    /// Every lease of the class is out and the class may not grow.
    #[error("all {leases} leases of {size} bytes are out")]
    Exhausted { size: usize, leases: usize },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
