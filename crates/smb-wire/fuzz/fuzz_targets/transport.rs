//! What arrives on a TCP connection before any SMB2 parsing: Direct TCP framing, then by protocol id
//! the TRANSFORM_HEADER (encrypted), COMPRESSION_TRANSFORM_HEADER, SMB1 NEGOTIATE or SMB2 header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smb_wire::compression_transform::CompressionTransform;
use smb_wire::framing::{split_frame, Frame};
use smb_wire::smb1::Smb1NegotiateRequest;
use smb_wire::{Encode, Header, TransformHeader};

/// The server's cap: 8 MiB I/O plus headers.
const MAX_FRAME: usize = 8 * 1024 * 1024 + 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Frame::Complete { message, consumed }) = split_frame(rest, MAX_FRAME) {
        assert!(consumed > 0 && consumed <= rest.len());
        rest = &rest[consumed..];
        match message.get(..4) {
            Some([0xFD, b'S', b'M', b'B']) => {
                if let Ok((h, ct)) = TransformHeader::parse_checked(message) {
                    assert_eq!(ct.len(), message.len() - 52);
                    let _ = h.to_vec();
                }
            }
            Some([0xFC, b'S', b'M', b'B']) => {
                if let Ok(CompressionTransform::Chained(c)) = CompressionTransform::parse(message) {
                    let _ = c.payloads().count();
                }
            }
            Some([0xFF, b'S', b'M', b'B']) => {
                if let Ok(n) = Smb1NegotiateRequest::parse(message) {
                    let _ = n.dialects.iter().count();
                    let _ = n.dialects.offers_smb2();
                }
            }
            _ => {
                if let Ok(h) = Header::parse(message) {
                    assert_eq!(Header::parse(&h.to_vec()), Ok(h));
                }
            }
        }
    }
});
