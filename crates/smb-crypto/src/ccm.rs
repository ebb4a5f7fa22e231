//! AES-CCM as SMB 3.x uses it (MS-SMB2 3.1.4.3: 11-byte nonce, 16-byte tag; NIST SP 800-38C, RFC 3610
//! formatting), with the CTR keystream and the CBC-MAC computed in one pass over the data.
//!
//! Why not the `ccm` crate alone: it runs CBC-MAC and CTR as two passes, one AES call per block each,
//! and sealed at 0.62x OpenSSL's CCM on the same core (`bench/crypto_vs_openssl.sh`, AES-128-CCM,
//! 64 KiB). CBC-MAC is one chain of dependent AES calls, so its latency bounds CCM; the keystream
//! blocks are independent, and computing a group of them (the AES backend's parallel width) beside
//! each group of MAC blocks lets the CPU run them in the chain's shadow, as OpenSSL's assembly does.
//! Both run inside one `encrypt_with_backend` call, so the AES-NI code is inlined with no per-block
//! dispatch. The `ccm` crate stays the cross-check (the differential tests).
//!
//! The AES round keys are the `aes` crate's, wiped on drop (its `zeroize` feature). The keystream and
//! MAC state on the stack are not wiped (see the crate's notes on stack copies).

use aes::cipher::{
    consts::U16, generic_array::GenericArray, BlockBackend, BlockClosure, BlockEncrypt, BlockSizeUser,
    KeyInit, ParBlocks,
};

/// Bytes of the nonce CCM takes in SMB (the length field then has 15 - 11 = 4 bytes).
pub const NONCE_LEN: usize = 11;
/// The largest message a 4-byte length field can describe.
pub const MAX_LEN: usize = u32::MAX as usize;
/// Associated data longer than this would need CCM's 6-byte length form, which SMB never uses
/// (its associated data is the 32-byte tail of the TRANSFORM_HEADER).
pub const MAX_AAD: usize = 0xFEFF;

// Flags of B0: Adata, (t - 2) / 2 = 7 for a 16-byte tag, q - 1 = 3 for a 4-byte length.
const B0_FLAGS: u8 = (7 << 3) | 3;
const ADATA: u8 = 0x40;
// Flags of the counter blocks: q - 1.
const CTR_FLAGS: u8 = 3;

type Block = GenericArray<u8, U16>;

/// An AES-CCM key over block cipher `A` (`aes::Aes128` or `aes::Aes256`).
pub struct FusedCcm<A> {
    aes: A,
}

impl<A: BlockEncrypt + BlockSizeUser<BlockSize = U16> + KeyInit> FusedCcm<A> {
    pub fn new_from_slice(key: &[u8]) -> Option<Self> {
        A::new_from_slice(key).ok().map(|aes| Self { aes })
    }

    /// Encrypts `buf` in place and returns the tag; `None` when `buf` or `aad` is longer than CCM
    /// with these parameters can describe.
    pub fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Option<[u8; 16]> {
        let mut tag = [0u8; 16];
        self.run(Pass { nonce, aad, buf, tag: &mut tag, open: false })?;
        Some(tag)
    }

    /// Decrypts `buf` in place and returns whether `tag` verified (compared in constant time). On
    /// `false` the caller must not use `buf` (it holds unverified plaintext: wipe it).
    pub fn open(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> bool {
        let mut want = [0u8; 16];
        if self.run(Pass { nonce, aad, buf, tag: &mut want, open: true }).is_none() {
            return false;
        }
        aws_lc_rs::constant_time::verify_slices_are_equal(&want, tag).is_ok()
    }

    fn run(&self, pass: Pass<'_>) -> Option<()> {
        if pass.buf.len() > MAX_LEN || pass.aad.len() > MAX_AAD {
            return None;
        }
        self.aes.encrypt_with_backend(pass);
        Some(())
    }
}

/// One seal or open, run by the AES backend (see [`BlockClosure`]).
struct Pass<'a> {
    nonce: &'a [u8; NONCE_LEN],
    aad: &'a [u8],
    buf: &'a mut [u8],
    /// Out: the tag (seal), or the tag the data should have (open).
    tag: &'a mut [u8; 16],
    open: bool,
}

impl BlockSizeUser for Pass<'_> {
    type BlockSize = U16;
}

/// `acc ^= data` for data zero-padded to a block (the associated data's last block).
#[inline(always)]
fn xor_into(acc: &mut Block, data: &[u8]) {
    acc.iter_mut().zip(data).for_each(|(a, d)| *a ^= d);
}

/// `acc ^= data` over a whole block: a fixed-length loop, one 128-bit XOR once compiled.
#[inline(always)]
fn xor_block(acc: &mut Block, data: &[u8; 16]) {
    for i in 0..16 {
        acc[i] ^= data[i];
    }
}

/// CTR and CBC-MAC over `body` (whole blocks), a group of keystream blocks (the backend's parallel
/// width) at a time beside the MAC chain; returns the MAC, advances `counter`.
#[inline(always)]
fn whole_blocks<B: BlockBackend<BlockSize = U16>>(
    aes: &mut B,
    mut mac: Block,
    ctr: &mut Block,
    counter: &mut u32,
    body: &mut [u8],
    open: bool,
) -> Block {
    let width = <B::ParBlocksSize as aes::cipher::typenum::Unsigned>::USIZE;
    let mut ks = ParBlocks::<B>::default();
    for group in body.chunks_mut(16 * width) {
        for k in ks.iter_mut() {
            ctr[12..].copy_from_slice(&counter.to_be_bytes());
            *k = *ctr;
            *counter = counter.wrapping_add(1);
        }
        aes.proc_par_blocks_inplace(&mut ks);
        for (data, k) in group.chunks_exact_mut(16).zip(ks.iter()) {
            let data: &mut [u8; 16] = data.try_into().unwrap_or_else(|_| unreachable!("chunks_exact"));
            // The keystream XOR as two 64-bit words: a byte loop here was 48 instructions a block,
            // crowding the MAC chain's shadow.
            let k: [u8; 16] = (*k).into();
            let masked = (u128::from_ne_bytes(*data) ^ u128::from_ne_bytes(k)).to_ne_bytes();
            if open {
                *data = masked;
                xor_block(&mut mac, data);
            } else {
                xor_block(&mut mac, data);
                *data = masked;
            }
            aes.proc_block_inplace(&mut mac);
        }
    }
    mac
}

impl BlockClosure for Pass<'_> {
    #[inline(always)]
    fn call<B: BlockBackend<BlockSize = U16>>(self, aes: &mut B) {
        let Pass { nonce, aad, buf, tag, open } = self;
        // B0, then the associated data with its 2-byte length, zero-padded to whole blocks.
        let mut mac = Block::default();
        mac[0] = B0_FLAGS | if aad.is_empty() { 0 } else { ADATA };
        mac[1..12].copy_from_slice(nonce);
        mac[12..].copy_from_slice(&(buf.len() as u32).to_be_bytes());
        aes.proc_block_inplace(&mut mac);
        if !aad.is_empty() {
            let mut first = [0u8; 16];
            first[..2].copy_from_slice(&(aad.len() as u16).to_be_bytes());
            let head = aad.len().min(14);
            first[2..2 + head].copy_from_slice(&aad[..head]);
            xor_into(&mut mac, &first);
            aes.proc_block_inplace(&mut mac);
            for chunk in aad[head..].chunks(16) {
                xor_into(&mut mac, chunk);
                aes.proc_block_inplace(&mut mac);
            }
        }
        // Counter block i: flags, nonce, i (big-endian). A_0 masks the tag; data uses A_1 onwards.
        let mut ctr = Block::default();
        ctr[0] = CTR_FLAGS;
        ctr[1..12].copy_from_slice(nonce);
        let mut s0 = ctr;
        aes.proc_block_inplace(&mut s0);
        let mut counter: u32 = 1;
        // Whole blocks first, with the MAC held by value so it can live in a register: a MAC that
        // partial-block code indexes byte by byte stays in memory, and the store and reload on
        // every block of the chain cost a third of the speed (`smbdx bench crypto`, AES-128-CCM).
        let whole = buf.len() / 16 * 16;
        let (body, tail) = buf.split_at_mut(whole);
        mac = whole_blocks(aes, mac, &mut ctr, &mut counter, body, open);
        if !tail.is_empty() {
            // The tail's counter follows the body's last block (the groups may have drawn more).
            let counter = 1 + (whole / 16) as u32;
            ctr[12..].copy_from_slice(&counter.to_be_bytes());
            let mut k = ctr;
            aes.proc_block_inplace(&mut k);
            let mut padded = [0u8; 16];
            if open {
                tail.iter_mut().zip(k.iter()).for_each(|(d, k)| *d ^= k);
                padded[..tail.len()].copy_from_slice(tail);
            } else {
                padded[..tail.len()].copy_from_slice(tail);
                tail.iter_mut().zip(k.iter()).for_each(|(d, k)| *d ^= k);
            }
            xor_block(&mut mac, &padded);
            aes.proc_block_inplace(&mut mac);
        }
        for (t, (m, s)) in tag.iter_mut().zip(mac.iter().zip(s0.iter())) {
            *t = m ^ s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 3610 packet vector #1 has an 8-byte tag; SP 800-38C's examples use short nonces. The
    // 11-byte-nonce, 16-byte-tag form SMB uses is checked against the `ccm` crate here and in
    // tests/differential.rs, and against MS-SMB2's own vector in tests/kat.rs.
    #[test]
    fn agrees_with_the_ccm_crate_across_lengths_and_group_edges() {
        use aes_gcm::aead::{consts::U11, AeadInPlace};
        type Reference = ccm::Ccm<aes::Aes256, U16, U11>;
        let key = [0x3cu8; 32];
        let fused = FusedCcm::<aes::Aes256>::new_from_slice(&key).unwrap();
        let reference = <Reference as aes_gcm::aead::KeyInit>::new_from_slice(&key).unwrap();
        let nonce = [9u8; 11];
        for len in [0usize, 1, 15, 16, 17, 127, 128, 129, 255, 256, 257, 4096, 65536 + 3] {
            for aad_len in [0usize, 1, 14, 15, 32, 100] {
                let plain: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
                let aad: Vec<u8> = (0..aad_len).map(|i| i as u8).collect();
                let mut a = plain.clone();
                let tag = fused.seal(&nonce, &aad, &mut a).unwrap();
                let mut b = plain.clone();
                let want = reference
                    .encrypt_in_place_detached(GenericArray::from_slice(&nonce), &aad, &mut b)
                    .unwrap();
                assert_eq!(a, b, "ciphertext, len {len} aad {aad_len}");
                assert_eq!(&tag[..], &want[..], "tag, len {len} aad {aad_len}");
                assert!(fused.open(&nonce, &aad, &mut a, &tag));
                assert_eq!(a, plain);
                let mut bad = tag;
                bad[15] ^= 1;
                let mut c = b.clone();
                assert!(!fused.open(&nonce, &aad, &mut c, &bad));
            }
        }
    }

    #[test]
    fn refuses_lengths_ccm_cannot_describe() {
        let fused = FusedCcm::<aes::Aes128>::new_from_slice(&[1; 16]).unwrap();
        assert!(fused.seal(&[0; 11], &[0; MAX_AAD + 1], &mut []).is_none());
        assert!(FusedCcm::<aes::Aes128>::new_from_slice(&[1; 15]).is_none());
    }
}
