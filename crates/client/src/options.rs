//! What the caller chooses: connection policy and how a file is opened.

use engine::PollMode;
use smb_crypto::{Cipher, SigningAlgorithm};
use smb_wire::negotiate::Dialect;
use std::time::Duration;

/// Settings of one [`crate::Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Encrypt everything and refuse a server that cannot.
    pub require_privacy: bool,
    /// Ciphers offered, best first (empty: this client cannot encrypt).
    pub ciphers: Vec<Cipher>,
    /// Signing algorithms offered for 3.1.1, best first (older dialects: AES-CMAC, HMAC-SHA256).
    pub signing: Vec<SigningAlgorithm>,
    /// Dialects offered. 3.1.1 is preferred; 3.0.2 and 3.0 are accepted, with the negotiation then
    /// confirmed by FSCTL_VALIDATE_NEGOTIATE_INFO. The lowest one listed is the downgrade floor.
    pub dialects: Vec<Dialect>,
    /// Sign every request that is not encrypted, and require signed answers.
    pub require_signing: bool,
    /// Reactor threads of the client's engine.
    pub reactors: usize,
    /// How those reactors wait for the network (spinning costs a core that a busy machine may need
    /// for the application or the server beside it).
    pub poll: PollMode,
    /// How long any one blocking call waits for the server.
    pub timeout: Duration,
    /// TCP (Direct TCP, MS-SMB2 2.1) or SMB Direct (MS-SMBD over RDMA).
    pub transport: Transport,
    /// Offer the SMB 3.1.1 RDMA transforms, so that over SMB Direct encrypted and signed data moves
    /// by RDMA, sealed or signed before it is placed (off: such data rides inline).
    pub rdma_transform: bool,
    /// Over SMB Direct, refuse a server that does not negotiate both RDMA transforms.
    pub require_rdma_transform: bool,
    /// The library that seals, opens and signs: `Auto` (the fastest on this CPU, measured once per
    /// process when the first client connects) or one forced.
    pub crypto_backend: smb_crypto::Backend,
}

/// What a [`crate::Client`] connects over.
#[derive(Debug, Clone, Default)]
pub enum Transport {
    #[default]
    Tcp,
    /// SMB Direct through this RDMA provider (the verbs provider for devices, the loopback one in
    /// tests); the address given to [`crate::Client::connect`] is the server's RDMA CM address.
    Rdma(engine::rdma::RdmaSettings),
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            require_privacy: false,
            ciphers: vec![Cipher::Aes128Gcm, Cipher::Aes256Gcm, Cipher::Aes128Ccm, Cipher::Aes256Ccm],
            dialects: vec![Dialect::SMB_3_1_1, Dialect::SMB_3_0_2, Dialect::SMB_3_0],
            signing: vec![SigningAlgorithm::AesGmac, SigningAlgorithm::AesCmac],
            require_signing: true,
            reactors: 1,
            poll: PollMode::default(),
            timeout: Duration::from_secs(30),
            transport: Transport::Tcp,
            rdma_transform: true,
            require_rdma_transform: false,
            crypto_backend: smb_crypto::Backend::Auto,
        }
    }
}

/// How [`crate::Tree::open`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// An existing file, for reading.
    Read,
    /// Create the file, or truncate an existing one; for reading and writing.
    Write,
    /// An existing file, for reading and writing (nothing truncated).
    ReadWrite,
    /// Create the file; fail with [`crate::ClientError::Exists`] if it is there already.
    CreateNew,
}
