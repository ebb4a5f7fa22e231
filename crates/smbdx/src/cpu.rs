//! CPU time of processes, from /proc, so a benchmark can report CPU seconds per GB beside its
//! throughput (the figure that shows an engine's cost when the link is not the limit).

/// Clock ticks per second in /proc/*/stat: USER_HZ, which Linux fixes at 100 for user space.
const USER_HZ: f64 = 100.0;

/// utime + stime of `pid`, in seconds; with `children`, also of its child processes (Samba's smbd
/// forks one per client): the live ones, and through cutime + cstime the ones it has reaped.
/// None when /proc does not have it.
pub fn seconds(pid: u32, children: bool) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut total = parse_stat(&stat, children)?;
    if children {
        for child in child_pids(pid) {
            total += one(child).unwrap_or(0.0);
        }
    }
    Some(total)
}

/// This process's CPU seconds so far.
pub fn own_seconds() -> f64 {
    seconds(std::process::id(), false).unwrap_or(0.0)
}

fn one(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat, true)
}

/// Fields 14 and 15 (utime, stime) of a /proc/PID/stat line, plus 16 and 17 (cutime, cstime: reaped
/// children) with `reaped`; the command name in parentheses may hold spaces, so fields are counted
/// after its closing parenthesis.
fn parse_stat(stat: &str, reaped: bool) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    let mut ticks = field(11)? + field(12)?;
    if reaped {
        ticks += field(13)? + field(14)?;
    }
    Some(ticks / USER_HZ)
}

fn child_pids(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| s[s.rfind(')')? + 1..].split_whitespace().nth(1)?.parse::<u32>().ok())
                == Some(pid)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime_after_the_command_name() {
        let line = "42 (smbd (x) y) S 1 42 42 0 -1 4194624 100 0 0 0 250 50 0 0 20 0 1 0 5 0 0";
        assert_eq!(parse_stat(line, false), Some(3.0));
        assert_eq!(parse_stat(line, true), Some(3.0));
        let reaped = "42 (smbd) S 1 42 42 0 -1 4194624 100 0 0 0 250 50 70 30 20 0 1 0 5 0 0";
        assert_eq!(parse_stat(reaped, true), Some(4.0));
        assert_eq!(parse_stat("garbage", false), None);
    }

    #[test]
    fn own_cpu_time_grows_with_work() {
        let before = own_seconds();
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < std::time::Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        assert!(own_seconds() > before, "{x}");
    }
}
