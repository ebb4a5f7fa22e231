//! # smb-crypto: SMB 3.x security, correct and fast
//!
//! Every primitive SMB 3.x needs behind one interface, on [`Backend::AwsLc`], [`Backend::Ring`] (AES-GCM
//! and GMAC) and [`Backend::RustCrypto`] (portable, the cross-check, and the only CCM), with
//! [`Backend::Auto`] choosing per cipher the library measured fastest on the running CPU
//! ([`select`]):
//!
//! - [`preauth::PreauthHash`]: the SHA-512 pre-authentication integrity chain (3.1.1).
//! - [`kdf`]: SP800-108 counter-mode KDF with HMAC-SHA256 and the session keys of 3.0/3.0.2/3.1.1,
//!   128- and 256-bit.
//! - [`signing::SigningKey`]: HMAC-SHA256, AES-128-CMAC, AES-128-GMAC, signing and verifying PDUs in place.
//! - [`cipher::AeadKey`]: AES-128/256-CCM/GCM sealing in place with a detached tag, and
//!   [`transform`]: the TRANSFORM_HEADER around it.
//! - [`nonce::NonceSequence`]: per-key, per-channel nonces that refuse to wrap; [`nonce::TransformNonces`]:
//!   the GMAC nonces of SIGNING RDMA transforms, disjoint from header-signing nonces.
//! - [`session_crypto::SessionCrypto`]: the session key schedule of both ends (MS-SMB2 3.2.5.3.1 /
//!   3.3.5.5.3), from the GSS session key to one end's signing key, sealing key with its nonces, and
//!   opening key; [`session_crypto::derive_signing_key`] for a bound channel's signing key; and the
//!   SMB 3.1.1 RDMA transform's crypto over placed data ([`SessionCrypto::seal_placed`] and friends).
//!
//! What it must not do: parse network messages beyond the fixed header fields it signs or seals, keep
//! protocol state, or log key material. Keys live in [`SecretKey`] (zeroized on drop) or in prepared
//! key objects whose schedules are wiped when dropped (aws-lc cleanses its own allocations when it
//! frees them; ring's keys are overwritten before they are freed; the RustCrypto crates are built with
//! their `zeroize` features); intermediate copies are wiped as soon as they are used. Not wiped: the RustCrypto backend's per-call HMAC-SHA256 state
//! (hmac 0.12 / sha2 0.10 cannot), and copies the compiler leaves on the stack.
//!
//! ```
//! use smb_crypto::{AeadKey, Backend, Cipher, NonceSequence, transform};
//! let key = AeadKey::new(Backend::FAST, Cipher::Aes128Gcm, &[7u8; 16]).unwrap();
//! let mut nonces = NonceSequence::new(0).unwrap();
//! let mut msg = b"an SMB2 message".to_vec();
//! let mut hdr = [0u8; transform::TRANSFORM_HEADER_LEN];
//! transform::seal_message(&key, &nonces.next_nonce().unwrap(), 0x25, &mut hdr, &mut msg).unwrap();
//! transform::open_message(&key, &hdr, &mut msg).unwrap();
//! assert_eq!(msg, b"an SMB2 message");
//! ```

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]

pub mod backend;
pub mod ccm;
pub mod cipher;
pub mod error;
pub mod hash;
pub mod kdf;
pub mod nonce;
pub mod placed;
pub mod preauth;
pub mod secret;
pub mod select;
pub mod session_crypto;
pub mod signing;
pub mod transform;

pub use backend::Backend;
pub use cipher::{AeadKey, Cipher};
pub use error::{CryptoError, Result};
pub use kdf::{KdfInput, SessionKeys};
pub use nonce::{Nonce, NonceSequence, TransformNonces};
pub use placed::{PlacedJob, PlacedSeal};
pub use preauth::PreauthHash;
pub use secret::{SecretKey, WipeOnDrop};
pub use session_crypto::{derive_signing_key, KeySchedule, Role, SealingKey, SessionCrypto};
pub use signing::{SigningAlgorithm, SigningKey};
