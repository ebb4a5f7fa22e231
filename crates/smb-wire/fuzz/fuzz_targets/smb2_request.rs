//! The server's decode path for SMB2 requests: a (possibly compounded) message from arbitrary bytes,
//! every PDU dispatched by command, every nested structure decoded (negotiate contexts, create
//! contexts, channel info, FSCTL inputs, SET_INFO buffers). Never panics; whatever parses re-encodes to
//! bytes that parse to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smb_wire::fsctl::{CtlCode, NetworkInterfaces, ValidateNegotiateInfoRequest};
use smb_wire::info::file::{
    FileBasicInformation, FileDispositionInformation, FileEndOfFileInformation, FileRenameInformation,
};
use smb_wire::pdu::pdu_to_vec;
use smb_wire::{parse_request, Compound, Request};

fuzz_target!(|data: &[u8]| {
    for pdu in Compound::new(data) {
        let Ok(pdu) = pdu else { break };
        let Ok((header, req)) = parse_request(pdu) else { continue };
        if let Some(body) = req.body() {
            let again = pdu_to_vec(&header, body);
            let (h2, r2) = parse_request(&again).expect("re-encoded request parses");
            assert_eq!(h2, header);
            assert_eq!(r2, req);
        }
        match req {
            Request::Negotiate(n) => {
                let _ = n.dialects.iter().count();
                for c in n.contexts.iter() {
                    let _ = c.decode();
                }
            }
            Request::Create(c) => {
                let _ = c.create_contexts.iter().count();
                let _ = c.name.to_string();
            }
            Request::Read(r) => {
                let _ = r.decode_channel_info();
            }
            Request::Write(w) => {
                let _ = w.decode_channel_info();
            }
            Request::Ioctl(i) => {
                if i.ctl_code == CtlCode::VALIDATE_NEGOTIATE_INFO {
                    let _ = ValidateNegotiateInfoRequest::parse(i.input);
                }
                let _ = NetworkInterfaces::parse(i.input);
            }
            Request::SetInfo(s) => {
                let _ = FileRenameInformation::parse(s.buffer);
                let _ = FileBasicInformation::parse(s.buffer);
                let _ = FileDispositionInformation::parse(s.buffer);
                let _ = FileEndOfFileInformation::parse(s.buffer);
            }
            _ => {}
        }
    }
});
