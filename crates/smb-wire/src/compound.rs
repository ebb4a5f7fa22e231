//! Compounded messages (MS-SMB2 3.2.4.1.4 sending, 3.3.5.2.7 receiving): several PDUs in one
//! message, chained by the header's NextCommand.
//!
//! [`Compound`] splits a received message into PDU slices without copying; [`CompoundWriter`] builds
//! one in a caller's buffer and reports each PDU's byte range, padding included, because a compound
//! member is signed from its header to the end of its padding.

use core::ops::Range;

use crate::codec::{align_up, Encode, Reader};
use crate::error::{Result, WireError};
use crate::header::{Header, HEADER_LEN};
use crate::pdu::{encode_pdu, pdu_len, EncodeDyn};
use crate::types::{narrow_u32, us};

/// Byte offset of NextCommand inside an SMB2 header.
pub const NEXT_COMMAND_OFFSET: usize = 20;
/// Every PDU but the last starts and ends on this boundary.
pub const PDU_ALIGN: usize = 8;
/// At most this many PDUs per message. Windows clients compound a handful (CREATE + QUERY_INFO +
/// CLOSE); the cap bounds the work one message can cause.
pub const MAX_COMPOUND_PDUS: usize = 64;

/// Iterator over the PDUs of a received message (MS-SMB2 3.3.5.2.7).
///
/// Each item is the slice from a PDU's header to its NextCommand (padding included), or to the end
/// of the message for the last. A NextCommand that is below a header's length, not a multiple of 8,
/// or leaves no room for the next header ends the iteration with an error, as does a message of
/// more than [`MAX_COMPOUND_PDUS`] PDUs. The iterator is fused after an error.
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    msg: &'a [u8],
    pos: usize,
    count: usize,
    done: bool,
}

impl<'a> Compound<'a> {
    pub fn new(msg: &'a [u8]) -> Self {
        Self { msg, pos: 0, count: 0, done: false }
    }

    /// Byte offset, within the message, of the PDU the next call to `next` returns.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn next_pdu(&mut self) -> Result<&'a [u8]> {
        if self.count == MAX_COMPOUND_PDUS {
            return Err(WireError::TooLarge {
                field: "Compound.PduCount",
                value: self.count + 1,
                cap: MAX_COMPOUND_PDUS,
            });
        }
        let mut r = Reader::at(self.msg, self.pos)?;
        let header = r.bytes(HEADER_LEN, "Compound.Header")?;
        let next = us(Reader::at(header, NEXT_COMMAND_OFFSET)?.u32("Header.NextCommand")?);
        self.count += 1;
        if next == 0 {
            self.done = true;
            return Ok(self.msg.get(self.pos..).unwrap_or_default());
        }
        if next < HEADER_LEN {
            return Err(WireError::BadValue { field: "Header.NextCommand", value: next as u64 });
        }
        if !next.is_multiple_of(PDU_ALIGN) {
            return Err(WireError::Misaligned {
                field: "Header.NextCommand",
                offset: next,
                align: PDU_ALIGN,
            });
        }
        // The next PDU must at least hold its header.
        let end = self
            .pos
            .checked_add(next)
            .filter(|e| e.checked_add(HEADER_LEN).is_some_and(|n| n <= self.msg.len()));
        let Some(end) = end else {
            return Err(WireError::OutOfBounds {
                field: "Header.NextCommand",
                offset: self.pos,
                len: next,
                msg_len: self.msg.len(),
            });
        };
        let pdu = self.msg.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(pdu)
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.next_pdu();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

impl core::iter::FusedIterator for Compound<'_> {}

/// Builds a compounded message in a caller's buffer (MS-SMB2 3.2.4.1.4 / 3.3.4.1.3).
///
/// [`push`](CompoundWriter::push) appends header + body; before the second and later PDUs it pads the
/// previous one with zeros to 8 bytes and patches the previous header's NextCommand. The last PDU is
/// not padded. The header passed in is written with NextCommand 0; its flags (RELATED_OPERATIONS,
/// SIGNED) are the caller's.
#[derive(Debug)]
pub struct CompoundWriter<'b> {
    buf: &'b mut [u8],
    starts: [usize; MAX_COMPOUND_PDUS],
    count: usize,
    end: usize,
}

impl<'b> CompoundWriter<'b> {
    /// The message starts at `buf[0]` (no transport prefix: the caller hands the slice after it).
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, starts: [0; MAX_COMPOUND_PDUS], count: 0, end: 0 }
    }

    /// Message length after pushing a PDU with `body` (padding of the current last PDU included).
    pub fn len_with(&self, body: &dyn EncodeDyn) -> usize {
        self.next_start() + pdu_len(body)
    }

    fn next_start(&self) -> usize {
        if self.count == 0 {
            0
        } else {
            align_up(self.end, PDU_ALIGN)
        }
    }

    /// Appends one PDU and returns its index. On error nothing is appended.
    pub fn push(&mut self, header: &Header, body: &dyn EncodeDyn) -> Result<usize> {
        if self.count == MAX_COMPOUND_PDUS {
            return Err(WireError::TooLarge {
                field: "Compound.PduCount",
                value: self.count + 1,
                cap: MAX_COMPOUND_PDUS,
            });
        }
        let start = self.next_start();
        let need = start.saturating_add(pdu_len(body));
        if need > self.buf.len() {
            return Err(WireError::BufferTooSmall { need, have: self.buf.len() });
        }
        let next_command = match self.count.checked_sub(1).map(|i| self.starts[i]) {
            Some(prev) => Some((prev, narrow_u32(start - prev, "Header.NextCommand")?)),
            None => None,
        };
        let h = Header { next_command: 0, ..*header };
        let n = encode_pdu(&h, body, &mut self.buf[start..])?;
        self.buf[self.end..start].fill(0);
        if let Some((prev, nc)) = next_command {
            let at = prev + NEXT_COMMAND_OFFSET;
            self.buf[at..at + 4].copy_from_slice(&nc.to_le_bytes());
        }
        let index = self.count;
        self.starts[index] = start;
        self.count += 1;
        self.end = start + n;
        Ok(index)
    }

    /// Appends a PDU that is already encoded (header + body, e.g. an error response built
    /// elsewhere); its NextCommand is overwritten. It must hold at least a header.
    pub fn push_encoded(&mut self, pdu: &[u8]) -> Result<usize> {
        let header = Header::parse(pdu)?;
        self.push(&header, &Raw(pdu.get(HEADER_LEN..).unwrap_or_default()))
    }

    /// Number of PDUs pushed.
    pub fn pdu_count(&self) -> usize {
        self.count
    }

    /// Message length so far.
    pub fn len(&self) -> usize {
        self.end
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Byte range of PDU `i` within the message: from its header to the start of the next PDU (its
    /// padding included), or to the current end for the last. This is the range to sign.
    pub fn range(&self, i: usize) -> Option<Range<usize>> {
        if i >= self.count {
            return None;
        }
        let start = self.starts[i];
        let end = if i + 1 < self.count { self.starts[i + 1] } else { self.end };
        Some(start..end)
    }

    pub fn ranges(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        (0..self.count).filter_map(|i| self.range(i))
    }

    /// The message so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.end]
    }

    /// PDU `i`, mutable, for signing in place.
    pub fn pdu_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        let r = self.range(i)?;
        self.buf.get_mut(r)
    }

    /// Ends the message, returning its length.
    pub fn finish(self) -> usize {
        self.end
    }
}

/// An already-encoded body copied verbatim.
struct Raw<'a>(&'a [u8]);

impl Encode for Raw<'_> {
    fn encoded_len_at(&self, _at: usize) -> usize {
        self.0.len()
    }

    fn encode(&self, w: &mut crate::codec::Writer<'_>) -> Result<()> {
        w.bytes(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{flags, Command};
    use crate::tree_connect::{TreeConnectRequest, TreeDisconnect};
    use crate::types::{utf16le, Utf16};
    use proptest::prelude::*;

    fn hdr(cmd: Command, mid: u64) -> Header {
        Header::request(cmd, mid, 0x55, 3)
    }

    fn build(bodies: &[&dyn EncodeDyn]) -> (Vec<u8>, Vec<Range<usize>>) {
        let mut buf = vec![0xAAu8; 4096];
        let mut w = CompoundWriter::new(&mut buf);
        for (i, b) in bodies.iter().enumerate() {
            let before = w.len_with(*b);
            assert_eq!(w.push(&hdr(Command::TREE_CONNECT, i as u64), *b).unwrap(), i);
            assert_eq!(w.len(), before);
        }
        let ranges: Vec<_> = w.ranges().collect();
        let n = w.finish();
        buf.truncate(n);
        (buf, ranges)
    }

    #[test]
    fn writer_pads_patches_and_reports_ranges() {
        let path = utf16le(r"\\s\a"); // 10 bytes: the PDU ends at 82, unaligned
        let tc = TreeConnectRequest { flags: 0, path: Utf16::new(&path, "t").unwrap() };
        let (msg, ranges) = build(&[&tc, &TreeDisconnect, &tc]);
        assert_eq!(ranges, vec![0..88, 88..160, 160..242]);
        assert_eq!(&msg[82..88], &[0; 6], "padding is zeroed");
        assert_eq!(Header::parse(&msg).unwrap().next_command, 88);
        assert_eq!(Header::parse(&msg[88..]).unwrap().next_command, 72);
        assert_eq!(Header::parse(&msg[160..]).unwrap().next_command, 0);
        let pdus: Vec<_> = Compound::new(&msg).collect::<Result<_>>().unwrap();
        assert_eq!(pdus.len(), 3);
        for (p, r) in pdus.iter().zip(&ranges) {
            assert_eq!(*p, &msg[r.clone()]);
        }
        assert_eq!(TreeConnectRequest::parse(pdus[2]).unwrap(), tc);
        TreeDisconnect::parse(pdus[1]).unwrap();
    }

    #[test]
    fn single_pdu_is_the_whole_message() {
        let (msg, ranges) = build(&[&TreeDisconnect]);
        assert_eq!(ranges, vec![0..68]);
        let mut c = Compound::new(&msg);
        assert_eq!(c.next().unwrap().unwrap(), &msg[..]);
        assert!(c.next().is_none());
    }

    #[test]
    fn push_encoded_keeps_the_pdu_and_rewrites_next_command() {
        let mut one = crate::pdu::pdu_to_vec(
            &Header { flags: flags::SERVER_TO_REDIR, next_command: 999, ..hdr(Command::ECHO, 1) },
            &TreeDisconnect,
        );
        let mut buf = [0u8; 256];
        let mut w = CompoundWriter::new(&mut buf);
        w.push_encoded(&one).unwrap();
        w.push_encoded(&one).unwrap();
        let n = w.finish();
        let pdus: Vec<_> = Compound::new(&buf[..n]).collect::<Result<_>>().unwrap();
        one[NEXT_COMMAND_OFFSET..NEXT_COMMAND_OFFSET + 4].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(pdus[1], &one[..]);
        assert_eq!(&pdus[0][..68], &[&one[..20], &72u32.to_le_bytes(), &one[24..]].concat()[..]);
        let mut buf = [0u8; 256];
        assert!(matches!(
            CompoundWriter::new(&mut buf).push_encoded(&one[..63]),
            Err(WireError::Truncated { field: "Header.Signature", .. })
        ));
    }

    #[test]
    fn writer_refuses_a_small_buffer_without_appending() {
        let mut buf = [0u8; 139];
        let mut w = CompoundWriter::new(&mut buf);
        w.push(&hdr(Command::ECHO, 1), &TreeDisconnect).unwrap();
        assert_eq!(
            w.push(&hdr(Command::ECHO, 2), &TreeDisconnect),
            Err(WireError::BufferTooSmall { need: 140, have: 139 })
        );
        assert_eq!(w.pdu_count(), 1);
        assert_eq!(w.range(0), Some(0..68));
        assert_eq!(w.range(1), None);
        assert_eq!(Header::parse(w.written()).unwrap().next_command, 0);
    }

    #[test]
    fn writer_caps_the_pdu_count() {
        let mut buf = vec![0u8; 72 * (MAX_COMPOUND_PDUS + 1)];
        let mut w = CompoundWriter::new(&mut buf);
        for i in 0..MAX_COMPOUND_PDUS {
            w.push(&hdr(Command::ECHO, i as u64), &TreeDisconnect).unwrap();
        }
        assert!(matches!(
            w.push(&hdr(Command::ECHO, 99), &TreeDisconnect),
            Err(WireError::TooLarge { field: "Compound.PduCount", .. })
        ));
        let n = w.finish();
        assert_eq!(Compound::new(&buf[..n]).filter(|p| p.is_ok()).count(), MAX_COMPOUND_PDUS);
    }

    #[test]
    fn reader_caps_the_pdu_count() {
        // 65 PDUs chained by hand.
        let one = crate::pdu::pdu_to_vec(&hdr(Command::ECHO, 0), &TreeDisconnect);
        let mut msg = Vec::new();
        for i in 0..=MAX_COMPOUND_PDUS {
            let mut p = one.clone();
            p.resize(72, 0);
            if i < MAX_COMPOUND_PDUS {
                p[20..24].copy_from_slice(&72u32.to_le_bytes());
            }
            msg.extend_from_slice(&p);
        }
        let items: Vec<_> = Compound::new(&msg).collect();
        assert_eq!(items.len(), MAX_COMPOUND_PDUS + 1);
        assert!(matches!(
            items.last().unwrap(),
            Err(WireError::TooLarge { field: "Compound.PduCount", value: 65, cap: MAX_COMPOUND_PDUS })
        ));
    }

    fn two_echoes(next: u32) -> Vec<u8> {
        let (mut msg, _) = build(&[&TreeDisconnect, &TreeDisconnect]);
        msg[20..24].copy_from_slice(&next.to_le_bytes());
        msg
    }

    #[test]
    fn bad_next_commands_are_rejected() {
        let msg = two_echoes(56);
        let mut c = Compound::new(&msg);
        assert_eq!(c.next(), Some(Err(WireError::BadValue { field: "Header.NextCommand", value: 56 })));
        assert_eq!(c.next(), None, "fused after an error");
        assert_eq!(
            Compound::new(&two_echoes(76)).next(),
            Some(Err(WireError::Misaligned { field: "Header.NextCommand", offset: 76, align: 8 }))
        );
        // The message is 72 + 68 = 140 bytes: a PDU at 80 would have only 60.
        assert!(matches!(
            Compound::new(&two_echoes(80)).next(),
            Some(Err(WireError::OutOfBounds { field: "Header.NextCommand", len: 80, .. }))
        ));
        assert!(matches!(
            Compound::new(&two_echoes(0xFFFF_FFF8)).next(),
            Some(Err(WireError::OutOfBounds { field: "Header.NextCommand", .. }))
        ));
        assert_eq!(Compound::new(&two_echoes(72)).count(), 2);
    }

    #[test]
    fn short_messages_are_rejected() {
        assert!(matches!(
            Compound::new(&[]).next(),
            Some(Err(WireError::Truncated { field: "Compound.Header", .. }))
        ));
        let msg = two_echoes(72);
        assert!(matches!(
            Compound::new(&msg[..63]).next(),
            Some(Err(WireError::Truncated { field: "Compound.Header", .. }))
        ));
        let mut c = Compound::new(&msg[..72 + 63]);
        assert!(matches!(c.next(), Some(Err(WireError::OutOfBounds { field: "Header.NextCommand", .. }))));
    }

    proptest! {
        #[test]
        fn built_compounds_split_back(paths in proptest::collection::vec("[a-z\\\\]{0,13}", 1..8)) {
            let encoded: Vec<Vec<u8>> = paths.iter().map(|p| utf16le(p)).collect();
            let bodies: Vec<TreeConnectRequest<'_>> = encoded
                .iter()
                .map(|b| TreeConnectRequest { flags: 0, path: Utf16::new(b, "t").unwrap() })
                .collect();
            let dyns: Vec<&dyn EncodeDyn> = bodies.iter().map(|b| b as &dyn EncodeDyn).collect();
            let (msg, ranges) = build(&dyns);
            let pdus: Vec<_> = Compound::new(&msg).collect::<Result<_>>().unwrap();
            prop_assert_eq!(pdus.len(), bodies.len());
            for ((p, r), b) in pdus.iter().zip(&ranges).zip(&bodies) {
                prop_assert_eq!(*p, &msg[r.clone()]);
                prop_assert_eq!(r.start % 8, 0);
                prop_assert_eq!(&TreeConnectRequest::parse(p).unwrap(), b);
            }
            prop_assert_eq!(ranges.last().unwrap().end, msg.len());
            for n in 0..msg.len() {
                let _ = Compound::new(&msg[..n]).count();
            }
        }

        #[test]
        fn random_bytes_never_panic(msg in proptest::collection::vec(any::<u8>(), 0..600), nexts in proptest::collection::vec(0u32..200, 0..8)) {
            let mut msg = msg;
            // Plant plausible NextCommand values so chains are actually followed.
            let mut pos = 0usize;
            for n in nexts {
                if pos + 24 > msg.len() { break; }
                msg[pos + 20..pos + 24].copy_from_slice(&n.to_le_bytes());
                pos += n as usize;
            }
            let mut total = 0;
            for p in Compound::new(&msg) {
                match p {
                    Ok(p) => { prop_assert!(p.len() >= HEADER_LEN); total += p.len(); }
                    Err(_) => break,
                }
            }
            prop_assert!(total <= msg.len());
        }
    }
}
