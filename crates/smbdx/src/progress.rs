//! A one-line progress bar with throughput on stderr, drawn only when stderr is a terminal (so
//! scripts and logs stay quiet) and at most five times a second.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    start: Instant,
    last: Option<Instant>,
    visible: bool,
}

const REDRAW: Duration = Duration::from_millis(200);

impl Progress {
    pub fn new(label: &str, total: u64, quiet: bool) -> Progress {
        Progress {
            label: label.to_string(),
            total,
            done: 0,
            start: Instant::now(),
            last: None,
            visible: !quiet && std::io::stderr().is_terminal(),
        }
    }

    pub fn add(&mut self, n: u64) {
        self.done += n;
        if self.visible && self.last.is_none_or(|t| t.elapsed() >= REDRAW) {
            self.last = Some(Instant::now());
            self.draw();
        }
    }

    fn draw(&self) {
        let line = render(&self.label, self.done, self.total, self.start.elapsed());
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r{line}\x1b[K");
        let _ = e.flush();
    }

    /// Ends the line (the final figures stay on screen).
    pub fn finish(self) {
        if self.visible {
            self.draw();
            eprintln!();
        }
    }
}

/// `label [#####     ]  52%  52.0/100.0 MiB  812.3 MB/s`
pub fn render(label: &str, done: u64, total: u64, elapsed: Duration) -> String {
    const WIDTH: usize = 24;
    let frac = if total == 0 { 1.0 } else { (done as f64 / total as f64).min(1.0) };
    let filled = (frac * WIDTH as f64) as usize;
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-3) / 1e6;
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    format!(
        "{label} [{}{}] {:>3.0}% {:.1}/{:.1} MiB {:.1} MB/s",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled),
        frac * 100.0,
        mib(done),
        mib(total),
        rate
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fraction_size_and_rate() {
        let s = render("f", 50 << 20, 100 << 20, Duration::from_secs(1));
        assert!(s.starts_with("f [############            ]  50% 50.0/100.0 MiB 52.4 MB/s"), "{s}");
        assert!(render("e", 0, 0, Duration::ZERO).contains("100%"));
    }
}
