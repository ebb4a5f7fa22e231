//! MS-SMB2 3.2.5.2 / 3.3.5.4 pre-authentication integrity: the SHA-512 hash chain over the NEGOTIATE
//! and SESSION_SETUP messages that 3.1.1 keys are bound to, so a tampered negotiation yields keys the
//! peer does not have.

use crate::backend::Backend;
use crate::hash::sha512;

/// A preauth integrity hash value (H0 is 64 zero bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PreauthHash {
    value: [u8; 64],
    backend: Backend,
}

impl PreauthHash {
    pub const LEN: usize = 64;

    /// H0: the value before the NEGOTIATE request.
    pub fn new(backend: Backend) -> Self {
        Self { value: [0; 64], backend }
    }

    /// H = SHA-512(H || message), `message` being the whole SMB2 message as sent or received (from the
    /// `FE 'SMB'` header; no transport prefix).
    pub fn update(&mut self, message: &[u8]) {
        self.value = sha512(self.backend, &[&self.value, message]);
    }

    /// The chain continued with `message`, leaving `self` as it was (a session starts from a copy of
    /// the connection's hash).
    pub fn updated(mut self, message: &[u8]) -> Self {
        self.update(message);
        self
    }

    /// A hash holding a known value on `like`'s backend (test vectors publish the final value only).
    pub fn from_value(like: PreauthHash, value: [u8; 64]) -> Self {
        Self { value, backend: like.backend }
    }

    pub fn value(&self) -> &[u8; 64] {
        &self.value
    }
}

impl core::fmt::Debug for PreauthHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PreauthHash(")?;
        self.value.iter().take(8).try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, "…)")
    }
}
