//! MS-SMBD 2.2.1/2.2.2 negotiate messages from arbitrary bytes: parsing never panics, and whatever
//! parses re-encodes to something that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smb_wire::smbd::negotiate::{NegotiateRequest, NegotiateResponse};
use smb_wire::Encode;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = NegotiateRequest::parse(data) {
        let bytes = req.to_vec();
        assert_eq!(bytes.len(), req.encoded_len());
        assert_eq!(NegotiateRequest::parse(&bytes), Ok(req));
        let _ = req.includes_v1();
    }
    if let Ok(rsp) = NegotiateResponse::parse(data) {
        let bytes = rsp.to_vec();
        assert_eq!(bytes.len(), rsp.encoded_len());
        assert_eq!(NegotiateResponse::parse(&bytes), Ok(rsp));
        let _ = rsp.includes_v1();
    }
});
