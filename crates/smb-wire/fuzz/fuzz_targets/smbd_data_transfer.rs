//! MS-SMBD 2.2.3 Data Transfer messages from arbitrary bytes: parsing never panics, the payload lies
//! inside the input, and whatever parses re-encodes (both through `Encode` and through the zero-copy
//! prefix) to something that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smb_wire::smbd::data_transfer::{DataTransfer, DATA_OFFSET};
use smb_wire::Encode;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = DataTransfer::parse(data) else { return };

    let range = data.as_ptr_range();
    let payload = msg.payload.as_ptr_range();
    assert!(range.start <= payload.start && payload.end <= range.end);

    let bytes = msg.to_vec();
    assert_eq!(bytes.len(), msg.encoded_len());
    assert_eq!(DataTransfer::parse(&bytes), Ok(msg));

    let mut prefix = [0u8; DATA_OFFSET];
    let data_len = u32::try_from(msg.payload.len()).expect("parsed from a u32 DataLength");
    let n = msg.header.encode_prefix(data_len, &mut prefix);
    let mut joined = prefix[..n].to_vec();
    joined.extend_from_slice(msg.payload);
    assert_eq!(joined, bytes);
});
