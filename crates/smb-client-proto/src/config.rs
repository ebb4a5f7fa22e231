//! Client policy: what the caller asks of every connection it opens.

use smb_crypto::{Backend, Cipher, SigningAlgorithm};
use smb_wire::negotiate::Dialect;

/// Settings of one client connection.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Dialects offered; the lowest one here is also the floor below which a negotiated dialect is
    /// refused as a downgrade.
    pub dialects: Vec<Dialect>,
    /// Ciphers offered in the 3.1.1 ENCRYPTION_CAPABILITIES context, best first.
    pub ciphers: Vec<Cipher>,
    /// Signing algorithms offered in the 3.1.1 SIGNING_CAPABILITIES context, best first.
    pub signing: Vec<SigningAlgorithm>,
    /// Encrypt every request of the session, whatever the server asks; refuse a server or dialect
    /// that cannot encrypt.
    pub require_privacy: bool,
    /// Sign every request that is not encrypted, and require signed responses.
    pub require_signing: bool,
    pub backend: Backend,
    /// Offer the SMB 3.1.1 RDMA transforms (ENCRYPTION and SIGNING) in NEGOTIATE, so encrypted and
    /// signed sessions over SMB Direct move READ/WRITE data by RDMA, sealed or signed.
    pub rdma_transform: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            dialects: vec![Dialect::SMB_3_1_1],
            ciphers: vec![Cipher::Aes256Gcm, Cipher::Aes128Gcm, Cipher::Aes256Ccm, Cipher::Aes128Ccm],
            signing: vec![SigningAlgorithm::AesGmac, SigningAlgorithm::AesCmac],
            require_privacy: false,
            require_signing: true,
            backend: Backend::FAST,
            rdma_transform: true,
        }
    }
}

impl ClientConfig {
    /// The lowest dialect offered (the downgrade floor).
    pub fn lowest_dialect(&self) -> Option<Dialect> {
        self.dialects.iter().copied().min_by_key(|d| d.0)
    }
}
