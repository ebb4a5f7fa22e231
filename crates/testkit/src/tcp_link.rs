//! Direct TCP (MS-SMB2 2.1) in memory: each direction is a byte stream; messages go in behind
//! their 4-byte prefix and come out cut by `smb_wire::framing::split_frame`, as the engine's input
//! buffer cuts them.

use smb_wire::framing::{frame_prefix, split_frame, Frame, MAX_FRAME_LEN};
use std::collections::VecDeque;

/// Both directions' bytes in flight (index: the sender, 0 client, 1 server).
#[derive(Debug, Default)]
pub(crate) struct TcpLink {
    streams: [Vec<u8>; 2],
    /// Bytes moved per direction, prefixes included.
    pub(crate) bytes: [u64; 2],
}

impl TcpLink {
    /// Frames `msg` onto `from`'s stream.
    pub(crate) fn send(&mut self, from: usize, parts: &[&[u8]]) {
        let len = parts.iter().map(|p| p.len()).sum();
        let prefix =
            frame_prefix(len).unwrap_or_else(|e| panic!("a {len}-byte message cannot be framed: {e}"));
        let s = &mut self.streams[from];
        s.extend_from_slice(&prefix);
        for p in parts {
            s.extend_from_slice(p);
        }
        self.bytes[from] += (prefix.len() + len) as u64;
    }

    /// Cuts every whole message off both streams into the receivers' inboxes. A bad prefix is
    /// what the engine closes a connection for: `Err` with the reason.
    pub(crate) fn pump(&mut self, inbox: &mut [VecDeque<Vec<u8>>; 2]) -> Result<bool, String> {
        let mut moved = false;
        for from in 0..2 {
            let mut at = 0;
            let stream = &self.streams[from];
            loop {
                match split_frame(&stream[at..], MAX_FRAME_LEN) {
                    Ok(Frame::Complete { message, consumed }) => {
                        inbox[1 - from].push_back(message.to_vec());
                        at += consumed;
                        moved = true;
                    }
                    Ok(Frame::Incomplete { .. }) => break,
                    Err(e) => return Err(format!("Direct TCP framing: {e}")),
                }
            }
            self.streams[from].drain(..at);
        }
        Ok(moved)
    }
}
