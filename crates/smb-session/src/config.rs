//! Server policy: what an administrator sets (the Windows knobs by their Windows names).

use smb_crypto::{Backend, Cipher, SigningAlgorithm};
use smb_wire::negotiate::Dialect;
use smb_wire::types::Guid;

/// Settings of one server, shared by all its connections.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub server_guid: Guid,
    /// NetBIOS-style name the server reports.
    pub server_name: String,
    /// Dialects served, any order; 2.x only matters where encryption is not required.
    pub dialects: Vec<Dialect>,
    /// Cipher preference, best first (`--ciphers`).
    pub ciphers: Vec<Cipher>,
    /// Signing algorithm preference for 3.1.1 SIGNING_CAPABILITIES.
    pub signing: Vec<SigningAlgorithm>,
    /// Server-wide EncryptData: every session must encrypt.
    pub encrypt_data: bool,
    /// RejectUnencryptedAccess (Windows default on): clients that cannot encrypt are refused where
    /// encryption is required, instead of being served in the clear.
    pub reject_unencrypted_access: bool,
    /// Signing required on every session that is not encrypted.
    pub require_signing: bool,
    pub max_transact_size: u32,
    pub max_read_size: u32,
    pub max_write_size: u32,
    /// Credits outstanding per connection at most.
    pub max_credits: u16,
    pub crypto_backend: Backend,
    /// Sessions per connection at most.
    pub max_sessions: usize,
    /// Trees per session at most.
    pub max_trees: usize,
    /// IsRDMATransformSupported: answer a 3.1.1 client's RDMA_TRANSFORM_CAPABILITIES, so encrypted
    /// and signed sessions move READ/WRITE data by RDMA, sealed or signed (MS-SMB2 3.3.5.4).
    pub rdma_transform: bool,
    /// Refuse SMB Direct connections whose client does not negotiate both transforms (ENCRYPTION
    /// and SIGNING): NEGOTIATE fails with STATUS_NOT_SUPPORTED.
    pub require_rdma_transform: bool,
    /// The server-wide budget connections' buffers are charged to (`iobuf::budget`; the engine
    /// charges its receive buffers and outboxes to the same one); `None`: no budget.
    pub memory_budget: Option<std::sync::Arc<iobuf::budget::MemoryBudget>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            server_guid: *b"smbdx-server-001",
            server_name: "SMBDX".into(),
            dialects: vec![
                Dialect::SMB_3_1_1,
                Dialect::SMB_3_0_2,
                Dialect::SMB_3_0,
                Dialect::SMB_2_1,
                Dialect::SMB_2_0_2,
            ],
            ciphers: vec![Cipher::Aes128Gcm, Cipher::Aes256Gcm, Cipher::Aes128Ccm, Cipher::Aes256Ccm],
            signing: vec![SigningAlgorithm::AesGmac, SigningAlgorithm::AesCmac, SigningAlgorithm::HmacSha256],
            encrypt_data: false,
            reject_unencrypted_access: true,
            require_signing: false,
            max_transact_size: 8 << 20,
            max_read_size: 8 << 20,
            max_write_size: 8 << 20,
            max_credits: 512,
            crypto_backend: Backend::FAST,
            max_sessions: 64,
            max_trees: 64,
            rdma_transform: true,
            require_rdma_transform: false,
            memory_budget: None,
        }
    }
}
