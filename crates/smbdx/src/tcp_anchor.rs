//! The anchor for SMB over TCP: raw loopback TCP throughput measured in the same run, one sender
//! and one receiver thread moving 1 MiB writes, so the SMB figures can be read against what the
//! machine's TCP stack does with nothing on top.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Bytes per second over 127.0.0.1 for about `duration`.
pub fn loopback_bytes_per_sec(duration: Duration) -> std::io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let receiver = std::thread::spawn(move || -> std::io::Result<u64> {
        let (mut s, _) = listener.accept()?;
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf)? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    });
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let buf = vec![0x5au8; 1 << 20];
    // A short warm-up so the measured part sees a settled window.
    let warm = Instant::now();
    while warm.elapsed() < duration / 10 {
        s.write_all(&buf)?;
    }
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < duration {
        s.write_all(&buf)?;
        sent += buf.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    drop(s);
    receiver.join().map_err(|_| std::io::Error::other("receiver thread panicked"))??;
    Ok(sent as f64 / secs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn moves_bytes() {
        let bps = super::loopback_bytes_per_sec(std::time::Duration::from_millis(100)).unwrap();
        assert!(bps > 0.0);
    }
}
