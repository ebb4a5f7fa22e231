//! A TCP relay between a client and a server that reads the Direct TCP framing (MS-SMB2 2.1) as
//! it forwards, recording the protocol id of every message (0xFE 'SMB' in the clear, 0xFD 'SMB'
//! for a TRANSFORM_HEADER), and that can cut the connection after a number of bytes: a capture on
//! the loopback port without root, and a server that vanishes mid-transfer on cue.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One message seen on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub to_server: bool,
    /// The first four bytes of the message.
    pub protocol: [u8; 4],
    /// SMB2 header Command, for messages in the clear.
    pub command: Option<u16>,
}

pub struct Proxy {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Proxy {
    /// Relays every connection to `target`; with `cut_after`, a connection is torn down once that
    /// many bytes have gone from the server to the client or the other way.
    pub fn start(target: SocketAddr, cut_after: Option<u64>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(target) else { return };
                let moved = Arc::new(AtomicU64::new(0));
                for (from, to, to_server) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap(), true),
                    (server, client, false),
                ] {
                    let (s, moved) = (Arc::clone(&s), Arc::clone(&moved));
                    std::thread::spawn(move || pump(from, to, to_server, &s, &moved, cut_after));
                }
            }
        });
        Proxy { addr, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    to_server: bool,
    seen: &Mutex<Vec<Seen>>,
    moved: &AtomicU64,
    cut_after: Option<u64>,
) {
    let mut head = [0u8; 4];
    loop {
        if from.read_exact(&mut head).is_err() {
            break;
        }
        let len = u32::from_be_bytes([0, head[1], head[2], head[3]]) as usize;
        let mut msg = vec![0u8; len];
        if from.read_exact(&mut msg).is_err() {
            break;
        }
        let mut protocol = [0u8; 4];
        let n = msg.len().min(4);
        protocol[..n].copy_from_slice(&msg[..n]);
        let command = (protocol == [0xFE, b'S', b'M', b'B'] && msg.len() >= 14)
            .then(|| u16::from_le_bytes([msg[12], msg[13]]));
        seen.lock().unwrap().push(Seen { to_server, protocol, command });
        let total = moved.fetch_add(4 + len as u64, Ordering::Relaxed) + 4 + len as u64;
        if cut_after.is_some_and(|c| total > c) {
            break;
        }
        if to.write_all(&head).and_then(|()| to.write_all(&msg)).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
