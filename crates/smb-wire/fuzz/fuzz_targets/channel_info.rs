//! READ/WRITE channel info from arbitrary bytes: buffer descriptor arrays and the SMB 3.1.1 RDMA
//! transform with its crypto transforms. The first byte picks the channel.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smb_wire::{Channel, ChannelInfo};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else { return };
    match ChannelInfo::parse(Channel(u32::from(sel % 5)), bytes) {
        Ok(ChannelInfo::Rdma(l)) => {
            assert_eq!(l.iter().count(), l.len());
            let _ = l.total_len();
        }
        Ok(ChannelInfo::RdmaTransform(t)) => {
            let _ = t.transforms.iter().count();
            let _ = t.descriptors.iter().count();
        }
        _ => {}
    }
});
