//! The client's side of the SMB 3.1.1 RDMA transform: which READs and WRITEs may move their data by
//! RDMA, WRITE data sealed or signed in place before the server pulls it (MS-SMB2 3.2.4.7), and a
//! READ response's transform checked (3.2.5.11) and its placed data opened or verified in place.
//!
//! Keys stay here: the driver hands in the bytes it placed or received, never sees a key.
//!
//! Policy: data of a tree that must be encrypted moves by RDMA only with the ENCRYPTION transform
//! negotiated, data that must be signed only with SIGNING (else it rides inline, as Linux's client
//! does); plaintext of an encrypted session is never placed.

use super::*;
use crate::completion::PlacedTransform;
use smb_wire::channel::{CryptoTransform, CryptoTransformType, CryptoTransforms};
use smb_wire::read::{read_response_flags, ReadResponse};
use smb_wire::smbd::BufferDescriptorList;
use smb_wire::{Channel, Encode, RdmaTransform};

/// Where a WRITE's data is: already in the registered buffer the server pulls from, or still in the
/// caller's bytes, to be sealed (or copied) into that buffer.
pub(super) enum WriteData<'a> {
    InPlace(&'a mut [u8]),
    /// `dst` holds `src.len() + 16` bytes (a seal's scratch past the data).
    From {
        src: &'a [u8],
        dst: &'a mut [u8],
    },
}

/// What a WRITE's data carries: the channel and the channel info to send.
pub(super) struct WriteChannel {
    pub(super) channel: Channel,
    pub(super) info: Vec<u8>,
}

impl ClientConnection {
    /// Whether READs and WRITEs on `tree` may move their data by RDMA (MS-SMB2 3.2.4.6 / 3.2.4.7):
    /// data that needs neither encryption nor signing always; data that must be encrypted with the
    /// ENCRYPTION transform negotiated; data that must be signed with SIGNING.
    pub fn rdma_allowed(&self, tree: TreeHandle) -> bool {
        let t = self.rdma_transforms();
        match self.protection(tree.0) {
            Ok((false, false)) => true,
            Ok((true, _)) => t.encryption,
            Ok((false, true)) => t.signing,
            Err(_) => false,
        }
    }

    /// MS-SMB2 3.2.4.7: the channel of a WRITE whose data lies in `data` (the registered buffer the
    /// server will pull, described by `descs`). Data that must be encrypted is sealed in place with
    /// the client-to-server key (ENCRYPTION transform), data that must be signed is signed (SIGNING);
    /// either goes as Channel RDMA_TRANSFORM with the descriptors inside it and the inner channel
    /// RDMA_V1_INVALIDATE (when `invalidate`). Other data goes plain as RDMA_V1(_INVALIDATE).
    pub(super) fn write_channel(
        &mut self,
        tree: u32,
        data: WriteData<'_>,
        descs: &[u8],
        invalidate: bool,
    ) -> Result<WriteChannel, ClientError> {
        let inner = if invalidate { Channel::RDMA_V1_INVALIDATE } else { Channel::RDMA_V1 };
        let (encrypt, sign) = self.protection(tree)?;
        if !encrypt && !sign {
            if let WriteData::From { src, dst } = data {
                let dst = dst
                    .get_mut(..src.len())
                    .ok_or(ClientError::BufferSize { expected: src.len(), got: 0 })?;
                dst.copy_from_slice(src);
            }
            return Ok(WriteChannel { channel: inner, info: descs.to_vec() });
        }
        let t = self.rdma_transforms();
        if (encrypt && !t.encryption) || (sign && !t.signing) {
            return Err(ClientError::PrivacyUnavailable {
                reason: "RDMA data that must be protected, without the RDMA transform negotiated",
            });
        }
        let keys = self
            .session
            .as_mut()
            .and_then(|s| s.keys.as_mut())
            .ok_or(ClientError::WrongState { op: "write", state: "no session keys" })?;
        let (kind, job) = if encrypt {
            (CryptoTransformType::ENCRYPTION, keys.seal_job().map_err(super::send::seal_error)?)
        } else {
            (CryptoTransformType::SIGNING, keys.sign_job().map_err(ClientError::crypto("signing RDMA data"))?)
        };
        let done = match data {
            WriteData::InPlace(d) => job.run(d),
            WriteData::From { src, dst } => job.run_from(src, dst),
        };
        let seal = match done {
            Ok(Some(seal)) => seal,
            Ok(None) => return Err(ClientError::WrongState { op: "write", state: "no seal made" }),
            Err(e) => return Err(super::send::seal_error(e)),
        };
        let ct = [CryptoTransform { transform_type: kind, signature: &seal.signature, nonce: seal.nonce() }];
        let t = RdmaTransform {
            channel: inner,
            transforms: CryptoTransforms::from_slice(&ct),
            descriptors: BufferDescriptorList::parse(descs).map_err(ClientError::wire("descriptors"))?,
        };
        Ok(WriteChannel { channel: Channel::RDMA_TRANSFORM, info: t.to_vec() })
    }

    /// MS-SMB2 3.2.5.11: the transform of the response to an RDMA READ, checked against how the
    /// request was sent (`encrypted`, `signed`) and what was negotiated. `Ok(None)`: plain placement,
    /// allowed only where the data needs no protection.
    pub(super) fn read_transform(
        &self,
        request: u64,
        rsp: &ReadResponse<'_>,
        encrypted: bool,
        signed: bool,
    ) -> Result<Option<PlacedTransform>, ClientError> {
        let bad = |detail| ClientError::BadRdmaTransform { request, detail };
        let negotiated = self.rdma_transforms();
        if rsp.flags & read_response_flags::RESPONSE_RDMA_TRANSFORM == 0 {
            if !rsp.data.is_empty() {
                return Err(ClientError::InlineDataForRdmaRead { request, len: rsp.data.len() });
            }
            if encrypted {
                return Err(bad("encrypted READ answered with plaintext placed"));
            }
            if signed && negotiated.signing {
                return Err(bad("signed READ answered without the SIGNING transform"));
            }
            return Ok(None);
        }
        if negotiated.is_empty() {
            return Err(bad("transform flag without negotiated transforms"));
        }
        let t = RdmaTransform::parse(rsp.data).map_err(|_| bad("malformed SMB2_RDMA_TRANSFORM"))?;
        let mut list = t.transforms.iter();
        let ct = match (list.next(), list.next()) {
            (Some(ct), None) => ct,
            (None, _) => return Err(bad("TransformCount 0")),
            (Some(_), Some(_)) => return Err(bad("more than one crypto transform")),
        };
        let is_enc = match ct.transform_type {
            CryptoTransformType::ENCRYPTION if !encrypted => {
                return Err(bad("ENCRYPTION in an unencrypted response"))
            }
            CryptoTransformType::ENCRYPTION if !negotiated.encryption => {
                return Err(bad("ENCRYPTION not negotiated"))
            }
            CryptoTransformType::ENCRYPTION => true,
            CryptoTransformType::SIGNING if encrypted => return Err(bad("SIGNING in an encrypted response")),
            CryptoTransformType::SIGNING if !negotiated.signing => return Err(bad("SIGNING not negotiated")),
            CryptoTransformType::SIGNING => false,
            _ => return Err(bad("unknown crypto transform")),
        };
        let nonce_ok = match (is_enc, self.cipher(), self.signing()) {
            (true, Some(c), _) => ct.nonce.len() == c.nonce_len(),
            (false, _, Some(SigningAlgorithm::AesGmac)) => ct.nonce.len() == 12,
            (false, _, _) => ct.nonce.is_empty(),
            (true, None, _) => false,
        };
        if ct.signature.len() != 16 || !nonce_ok {
            return Err(bad("signature or nonce of the wrong length"));
        }
        let mut p = PlacedTransform { encrypted: is_enc, signature: [0; 16], nonce: [0; 16], nonce_len: 0 };
        p.signature.copy_from_slice(ct.signature);
        p.nonce[..ct.nonce.len()].copy_from_slice(ct.nonce);
        p.nonce_len = ct.nonce.len() as u8;
        Ok(Some(p))
    }

    /// Opens (ENCRYPTION) or verifies (SIGNING) the data of READ `request` that the server placed
    /// in `data` by RDMA, in place, with the session's keys. On failure nothing in `data` may be
    /// used (a failed open wipes it).
    pub fn open_placed(
        &self,
        request: RequestId,
        transform: &PlacedTransform,
        data: &mut [u8],
    ) -> Result<(), ClientError> {
        let keys = self
            .session
            .as_ref()
            .and_then(|s| s.keys.as_ref())
            .ok_or(ClientError::WrongState { op: "open_placed", state: "no session keys" })?;
        let (result, what) = if transform.encrypted {
            (keys.open_placed(transform.nonce(), &transform.signature, data), "authentication tag")
        } else {
            (keys.verify_placed(transform.nonce(), &transform.signature, data), "signature")
        };
        result.map_err(|_| ClientError::PlacedDataRejected { request: request.0, what })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smb_wire::types::Guid;

    /// A connection whose NEGOTIATE settled AES-128-GCM, `signing`, and the RDMA transforms `t`.
    fn negotiated(signing: SigningAlgorithm, t: RdmaTransformSet) -> ClientConnection {
        let mut c = ClientConnection::new(crate::ClientConfig::default(), [1; 16], [2; 32]);
        c.negotiated = Some(Negotiated {
            dialect: Dialect::SMB_3_1_1,
            cipher: Some(Cipher::Aes128Gcm),
            signing,
            server_signing_required: false,
            large_mtu: true,
            max_read: 1 << 20,
            max_write: 1 << 20,
            server_guid: Guid::default(),
            server_capabilities: 0,
            server_security_mode: 0,
            rdma_transforms: t,
        });
        c
    }

    /// SMB2_RDMA_TRANSFORM bytes with these crypto transforms.
    fn transform(list: &[(CryptoTransformType, usize, usize)]) -> Vec<u8> {
        let (sig, nonce) = ([0xAB; 17], [0xCD; 17]);
        let cts: Vec<CryptoTransform<'_>> = list
            .iter()
            .map(|&(t, s, n)| CryptoTransform { transform_type: t, signature: &sig[..s], nonce: &nonce[..n] })
            .collect();
        RdmaTransform {
            channel: Channel::NONE,
            transforms: CryptoTransforms::from_slice(&cts),
            descriptors: BufferDescriptorList::default(),
        }
        .to_vec()
    }

    const ENC: CryptoTransformType = CryptoTransformType::ENCRYPTION;
    const SIGN: CryptoTransformType = CryptoTransformType::SIGNING;
    const FLAG: u32 = read_response_flags::RESPONSE_RDMA_TRANSFORM;

    /// MS-SMB2 3.2.5.11: every way a READ response's transform can be wrong is refused, and the
    /// right ones are taken.
    #[test]
    fn read_response_transforms_are_checked_as_3_2_5_11_says() {
        let gmac = SigningAlgorithm::AesGmac;
        let cmac = SigningAlgorithm::AesCmac;
        let all = RdmaTransformSet::ALL;
        let enc_only = RdmaTransformSet { encryption: true, signing: false };
        let good_enc = transform(&[(ENC, 16, 12)]);
        let good_gmac = transform(&[(SIGN, 16, 12)]);
        let good_cmac = transform(&[(SIGN, 16, 0)]);
        // (what, negotiated, signing, flags, data, request encrypted, request signed, accepted)
        type Case<'a> = (&'a str, RdmaTransformSet, SigningAlgorithm, u32, &'a [u8], bool, bool, bool);
        let ccm_nonce = transform(&[(ENC, 16, 11)]);
        let short_tag = transform(&[(ENC, 15, 12)]);
        let two = transform(&[(ENC, 16, 12), (ENC, 16, 12)]);
        let none = transform(&[]);
        let unknown = transform(&[(CryptoTransformType(9), 16, 12)]);
        let cmac_with_nonce = transform(&[(SIGN, 16, 12)]);
        let cases: [Case<'_>; 17] = [
            ("sealed data, encrypted request", all, gmac, FLAG, &good_enc, true, false, true),
            ("GMAC-signed data, signed request", all, gmac, FLAG, &good_gmac, false, true, true),
            ("CMAC-signed data, signed request", all, cmac, FLAG, &good_cmac, false, true, true),
            ("plain data, plain request", all, gmac, 0, &[], false, false, true),
            ("plain data, signed request, SIGNING not negotiated", enc_only, gmac, 0, &[], false, true, true),
            ("plaintext placed for an encrypted request", all, gmac, 0, &[], true, false, false),
            ("no SIGNING transform for a signed request", all, gmac, 0, &[], false, true, false),
            (
                "flag without negotiated transforms",
                RdmaTransformSet::NONE,
                gmac,
                FLAG,
                &good_enc,
                true,
                false,
                false,
            ),
            ("ENCRYPTION in an unencrypted response", all, gmac, FLAG, &good_enc, false, true, false),
            ("SIGNING in an encrypted response", all, gmac, FLAG, &good_gmac, true, false, false),
            ("SIGNING not negotiated", enc_only, gmac, FLAG, &good_gmac, false, true, false),
            ("TransformCount 0", all, gmac, FLAG, &none, true, false, false),
            ("two transforms", all, gmac, FLAG, &two, true, false, false),
            ("an unknown transform", all, gmac, FLAG, &unknown, true, false, false),
            ("an 11-byte nonce for GCM", all, gmac, FLAG, &ccm_nonce, true, false, false),
            ("a 15-byte tag", all, gmac, FLAG, &short_tag, true, false, false),
            ("a nonce with CMAC", all, cmac, FLAG, &cmac_with_nonce, false, true, false),
        ];
        for (what, t, signing, flags, data, encrypted, signed, accepted) in cases {
            let c = negotiated(signing, t);
            let rsp = ReadResponse { data_remaining: 4096, flags, data };
            let got = c.read_transform(7, &rsp, encrypted, signed);
            assert_eq!(got.is_ok(), accepted, "{what}: {got:?}");
            if let Ok(Some(p)) = got {
                assert_eq!(p.is_encryption(), encrypted, "{what}");
            }
        }
        // Garbage where the transform should be, and inline data for an RDMA READ.
        let c = negotiated(gmac, all);
        let rsp = ReadResponse { data_remaining: 4096, flags: FLAG, data: &[1, 2, 3] };
        assert!(matches!(c.read_transform(7, &rsp, true, false), Err(ClientError::BadRdmaTransform { .. })));
        let rsp = ReadResponse { data_remaining: 0, flags: 0, data: &[1, 2, 3] };
        assert!(matches!(
            c.read_transform(7, &rsp, false, false),
            Err(ClientError::InlineDataForRdmaRead { .. })
        ));
    }
}
