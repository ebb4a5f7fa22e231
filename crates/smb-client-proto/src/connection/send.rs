//! MS-SMB2 3.2.4.1 sending any outgoing message: MessageIds from the credit window (3.2.4.1.3),
//! then, as the session and tree require, signing (3.2.4.1.1) or sealing under a TRANSFORM_HEADER
//! (3.2.4.1.8, 3.1.4.3) in place.

use super::*;
use smb_crypto::CryptoError;
use smb_wire::pdu::{encode_pdu, pdu_len, EncodeDyn};

/// Caps the outstanding requests tracked per connection (a caller cannot hold more credits anyway).
const MAX_PENDING: usize = 8192;

impl ClientConnection {
    /// Frames a request after logon: header, then seal or sign as policy says.
    pub(super) fn send(
        &mut self,
        command: Command,
        tree: u32,
        charge: u16,
        body: &dyn EncodeDyn,
        file: Option<FileId>,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        let (encrypt, sign) = self.protection(tree)?;
        // A sealed message is built with room for its TRANSFORM_HEADER in front, so sealing works
        // in place and the payload is copied once, into this buffer.
        let room = if encrypt { TRANSFORM_HEADER_LEN } else { 0 };
        let mut msg = vec![0u8; room + pdu_len(body)];
        let id = self.frame_into(command, tree, charge, body, file, &mut msg[room..])?;
        self.protect(id, &mut msg, room, encrypt, sign)?;
        Ok((id, msg))
    }

    /// The session's sealing key with its nonces, and the session's id.
    pub(super) fn sealing(&mut self) -> Result<(&mut SealingKey, u64), ClientError> {
        let session =
            self.session.as_mut().ok_or(ClientError::WrongState { op: "send", state: "no session" })?;
        let id = session.id;
        let sealing = session.sealing().ok_or(ClientError::PrivacyUnavailable {
            reason: "encryption required but the session has no key",
        })?;
        Ok((sealing, id))
    }

    /// How a request on `tree` is protected (MS-SMB2 3.2.4.1.8, 3.2.4.1.1): (encrypt, sign).
    pub(super) fn protection(&self, tree: u32) -> Result<(bool, bool), ClientError> {
        let session =
            self.session.as_ref().ok_or(ClientError::WrongState { op: "send", state: "no session" })?;
        let tree_encrypt = self.trees.get(&tree).copied().unwrap_or(false);
        let encrypt = session.encrypt_data || tree_encrypt || self.cfg.require_privacy;
        if encrypt && !session.can_encrypt() {
            return Err(ClientError::PrivacyUnavailable {
                reason: "encryption required but the session has no key",
            });
        }
        Ok((encrypt, !encrypt && session.signing_required))
    }

    /// Signs or seals the request `id` whose PDU is `msg[pdu_at..]`, in place; a seal puts the
    /// TRANSFORM_HEADER in the `TRANSFORM_HEADER_LEN` bytes before `pdu_at`. Returns where the
    /// message to send starts.
    pub(super) fn protect(
        &mut self,
        id: RequestId,
        msg: &mut [u8],
        pdu_at: usize,
        encrypt: bool,
        sign: bool,
    ) -> Result<usize, ClientError> {
        if let Some(p) = self.pending.get_mut(&id.0) {
            p.encrypted = encrypt;
            p.signed = sign;
        }
        let Some(session) = self.session.as_mut() else {
            return Err(ClientError::WrongState { op: "send", state: "no session" });
        };
        if sign {
            if let Some(key) = session.signing() {
                key.sign_in_place(&mut msg[pdu_at..]).map_err(ClientError::crypto("signing a request"))?;
            }
        }
        if !encrypt {
            return Ok(pdu_at);
        }
        let start = pdu_at
            .checked_sub(TRANSFORM_HEADER_LEN)
            .ok_or(ClientError::BufferSize { expected: TRANSFORM_HEADER_LEN, got: pdu_at })?;
        let (hdr, pdu) = msg[start..].split_at_mut(TRANSFORM_HEADER_LEN);
        let hdr: &mut [u8; TRANSFORM_HEADER_LEN] =
            hdr.try_into().map_err(|_| ClientError::BufferSize { expected: TRANSFORM_HEADER_LEN, got: 0 })?;
        let (sealing, session_id) = self.sealing()?;
        sealing.seal_message(session_id, hdr, pdu).map_err(seal_error)?;
        Ok(start)
    }

    /// Takes MessageIds for `charge` credits and encodes the PDU; records it as pending.
    pub(super) fn frame(
        &mut self,
        command: Command,
        tree: u32,
        charge: u16,
        body: &dyn EncodeDyn,
        file: Option<FileId>,
    ) -> Result<(RequestId, Vec<u8>), ClientError> {
        let mut pdu = vec![0u8; pdu_len(body)];
        let id = self.frame_into(command, tree, charge, body, file, &mut pdu)?;
        Ok((id, pdu))
    }

    /// Takes MessageIds for `charge` credits, encodes header and body into `out` (exactly their
    /// length), and records the request as pending.
    pub(super) fn frame_into(
        &mut self,
        command: Command,
        tree: u32,
        charge: u16,
        body: &dyn EncodeDyn,
        file: Option<FileId>,
        out: &mut [u8],
    ) -> Result<RequestId, ClientError> {
        if self.pending.len() >= MAX_PENDING {
            return Err(ClientError::NoCredits { need: charge, have: 0 });
        }
        if out.len() != pdu_len(body) {
            return Err(ClientError::BufferSize { expected: pdu_len(body), got: out.len() });
        }
        let credit_request = self.credits.request_for(charge);
        let have = self.credits.available();
        let mid = self.credits.take(charge).ok_or(ClientError::NoCredits { need: charge.max(1), have })?;
        let session_id = match command {
            Command::NEGOTIATE => 0,
            Command::SESSION_SETUP => self.setup.as_ref().map_or(0, |s| s.session_id),
            _ => self.session.as_ref().map_or(0, |s| s.id),
        };
        let mut h = Header::request(command, mid, session_id, tree);
        // 2.0.2 has no multi-credit requests: CreditCharge stays 0 there.
        h.credit_charge = if self.dialect() == Some(Dialect::SMB_2_0_2) { 0 } else { charge.max(1) };
        h.credits = credit_request;
        encode_pdu(&h, body, out).map_err(ClientError::wire("request"))?;
        self.pending
            .insert(mid, Pending { command, tree, file, encrypted: false, signed: false, rdma: false });
        Ok(RequestId(mid))
    }
}

/// What failed when sealing a request: the nonces running out, or the seal.
pub(super) fn seal_error(e: CryptoError) -> ClientError {
    let what = if e == CryptoError::NonceExhausted { "nonce" } else { "sealing a request" };
    ClientError::Crypto { what, source: e }
}
