//! The client's decode path for SMB2 responses: compounds, ERROR bodies and their contexts, NEGOTIATE
//! contexts, directory listings, QUERY_INFO outputs, interface lists. Never panics; whatever parses
//! re-encodes to bytes that parse to the same response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smb_wire::fsctl::{NetworkInterfaces, ValidateNegotiateInfoResponse};
use smb_wire::info::dir::AnyDirEntry;
use smb_wire::info::file::{FileAllInformation, FileStreamInformation};
use smb_wire::info::fs::{FileFsAttributeInformation, FileFsVolumeInformation};
use smb_wire::info::FileInfoClass;
use smb_wire::pdu::pdu_to_vec;
use smb_wire::{parse_response, Compound, Response};

fuzz_target!(|data: &[u8]| {
    for pdu in Compound::new(data) {
        let Ok(pdu) = pdu else { break };
        let Ok((header, rsp)) = parse_response(pdu) else { continue };
        if let Some(body) = rsp.body() {
            let again = pdu_to_vec(&header, body);
            let (h2, r2) = parse_response(&again).expect("re-encoded response parses");
            assert_eq!(h2, header);
            assert_eq!(r2, rsp);
        }
        match rsp {
            Response::Error(e) => {
                let _ = e.contexts().count();
            }
            Response::Negotiate(n) => {
                for c in n.contexts.iter() {
                    let _ = c.decode();
                }
            }
            Response::Read(r) => {
                let _ = r.data.len();
            }
            Response::Ioctl(i) => {
                let _ = NetworkInterfaces::parse(i.output).map(|l| l.iter().count());
                let _ = ValidateNegotiateInfoResponse::parse(i.output);
            }
            Response::QueryDirectory(q) => {
                for class in [
                    FileInfoClass::DIRECTORY,
                    FileInfoClass::FULL_DIRECTORY,
                    FileInfoClass::BOTH_DIRECTORY,
                    FileInfoClass::NAMES,
                    FileInfoClass::ID_BOTH_DIRECTORY,
                    FileInfoClass::ID_FULL_DIRECTORY,
                ] {
                    let _ = AnyDirEntry::parse(class, q.output);
                }
            }
            Response::QueryInfo(q) => {
                let _ = FileAllInformation::parse(q.output);
                let _ = FileStreamInformation::parse(q.output).map(|s| s.iter().count());
                let _ = FileFsVolumeInformation::parse(q.output);
                let _ = FileFsAttributeInformation::parse(q.output);
            }
            _ => {}
        }
    }
});
