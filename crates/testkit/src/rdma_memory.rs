//! The client's memory as a server's RDMA operations reach it over the simulated SMB Direct link:
//! buffers the client granted through memory windows, named by buffer descriptors (MS-SMBD
//! 2.2.3.1), written by RDMA WRITE, read by RDMA READ, revoked by SEND_WITH_INVALIDATE.
//!
//! Each access is checked as a reliable-connection queue pair checks it (the token names a live
//! window, the range lies inside it, the window allows the access); a failed check is what a
//! device reports as a remote access error, and the link treats it so (the connection breaks).

use smb_wire::smbd::BufferDescriptorV1;
use std::collections::HashMap;

/// What the server may do to a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// RDMA WRITE into it: the buffer of a READ whose data the server places.
    RemoteWrite,
    /// RDMA READ from it: the payload of a WRITE the server pulls.
    RemoteRead,
}

/// One granted buffer.
#[derive(Debug)]
pub struct Window {
    pub bytes: Vec<u8>,
    /// The address descriptors name its first byte by.
    pub addr: u64,
    pub access: Access,
    /// False once invalidated: every later access fails.
    pub valid: bool,
}

/// The client's granted windows, by token.
#[derive(Debug, Default)]
pub struct Memory {
    windows: HashMap<u32, Window>,
    next_token: u32,
    /// Tokens invalidated by the server's SEND_WITH_INVALIDATE, in order.
    pub invalidated: Vec<u32>,
}

impl Memory {
    /// Grants `bytes` with `access`; returns the descriptor of the whole window.
    pub fn grant(&mut self, bytes: Vec<u8>, access: Access) -> BufferDescriptorV1 {
        self.next_token += 1;
        let token = 0x1000 + self.next_token;
        // User-space-looking addresses, apart by more than any window, so that an offset into the
        // wrong window is never in range.
        let addr = 0x7f00_0000_0000 + u64::from(self.next_token) * (1 << 32);
        let length = u32::try_from(bytes.len()).expect("a window under 4 GiB");
        self.windows.insert(token, Window { bytes, addr, access, valid: true });
        BufferDescriptorV1 { offset: addr, token, length }
    }

    /// The window `token` names, cut into descriptors of `lens` bytes each, back to back (as
    /// Windows describes 1 MiB: 0xFFFC0 + 0x40 bytes).
    pub fn describe(&self, token: u32, lens: &[u32]) -> Vec<BufferDescriptorV1> {
        let w = &self.windows[&token];
        let mut offset = w.addr;
        lens.iter()
            .map(|&length| {
                let d = BufferDescriptorV1 { offset, token, length };
                offset += u64::from(length);
                d
            })
            .collect()
    }

    pub fn window(&self, token: u32) -> Option<&Window> {
        self.windows.get(&token)
    }

    /// A window's bytes to change in place, as a client seals or signs a WRITE's data in the
    /// buffer it granted (or as an attacker on the wire would).
    pub fn window_mut(&mut self, token: u32) -> Option<&mut Window> {
        self.windows.get_mut(&token)
    }

    /// Forgets a window (the client took its buffer back).
    pub fn release(&mut self, token: u32) -> Option<Window> {
        self.windows.remove(&token)
    }

    /// The bytes of `descs` in order, `len` in all: (token, range in its window) per piece.
    fn pieces(
        &self,
        descs: &[BufferDescriptorV1],
        len: usize,
        access: Access,
    ) -> Result<Vec<(u32, std::ops::Range<usize>)>, String> {
        let mut left = len;
        let mut out = Vec::new();
        for d in descs {
            if left == 0 {
                break;
            }
            let n = left.min(d.length as usize);
            let w = self.windows.get(&d.token).ok_or(format!("token {:#x}: no such window", d.token))?;
            if !w.valid {
                return Err(format!("token {:#x}: invalidated", d.token));
            }
            if w.access != access {
                return Err(format!("token {:#x}: window does not allow {access:?}", d.token));
            }
            let start = d.offset.checked_sub(w.addr).map(|s| s as usize);
            let range = start.map(|s| s..s + n).filter(|r| r.end <= w.bytes.len());
            let range = range
                .ok_or(format!("token {:#x}: {n} bytes at {:#x} outside the window", d.token, d.offset))?;
            out.push((d.token, range));
            left -= n;
        }
        if left > 0 {
            return Err(format!("descriptors {len} bytes short"));
        }
        Ok(out)
    }

    /// An RDMA WRITE of `data` into the buffers `descs` describe.
    pub(crate) fn rdma_write(&mut self, data: &[u8], descs: &[BufferDescriptorV1]) -> Result<(), String> {
        let mut at = 0;
        for (token, range) in self.pieces(descs, data.len(), Access::RemoteWrite)? {
            let n = range.len();
            self.windows.get_mut(&token).expect("checked").bytes[range].copy_from_slice(&data[at..at + n]);
            at += n;
        }
        Ok(())
    }

    /// An RDMA READ of `into.len()` bytes from the buffers `descs` describe.
    pub(crate) fn rdma_read(&self, into: &mut [u8], descs: &[BufferDescriptorV1]) -> Result<(), String> {
        let mut at = 0;
        for (token, range) in self.pieces(descs, into.len(), Access::RemoteRead)? {
            let n = range.len();
            into[at..at + n].copy_from_slice(&self.windows[&token].bytes[range]);
            at += n;
        }
        Ok(())
    }

    /// SEND_WITH_INVALIDATE arrived naming `token`.
    pub(crate) fn invalidate(&mut self, token: u32) {
        if let Some(w) = self.windows.get_mut(&token) {
            w.valid = false;
        }
        self.invalidated.push(token);
    }
}
