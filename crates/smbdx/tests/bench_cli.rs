//! `smbdx bench` against `smbdx serve` and `smbdx demo`, end to end through the binary: every
//! configuration asked for comes back as a row whose figures agree with each other, the anchor is
//! measured, the test file is removed, and a failed logon exits with its code.

mod common;

use std::collections::BTreeSet;
use std::process::Output;

use common::{cli_with as smbdx, Serve, PASS, USER};

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn bench_reports_every_configuration_against_the_anchor_and_removes_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(&["--share", &format!("data={},encrypt-data", dir.path().display())]);
    let url = format!("smb://{USER}@127.0.0.1:{}/data", serve.port);
    let plots = tempfile::tempdir().unwrap();
    let plot = plots.path().join("bench.svg");
    let out = smbdx(
        &[
            "bench",
            &url,
            "--op",
            "read,write",
            "--size",
            "64k,1m",
            "--depth",
            "4",
            "--duration",
            "0.3",
            "--cipher",
            "aes-128-gcm,aes-256-gcm",
            "--file-size",
            "8m",
            "--json",
            "--plot",
            plot.to_str().unwrap(),
        ],
        PASS,
    );
    assert!(out.status.success(), "{}", text(&out));
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: BTreeSet<(String, u64, String)> = rows
        .iter()
        .map(|r| {
            (
                r["op"].as_str().unwrap().into(),
                r["size"].as_u64().unwrap(),
                r["cipher"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut want = BTreeSet::new();
    for op in ["read", "write"] {
        for size in [64 << 10, 1 << 20] {
            for cipher in ["aes-128-gcm", "aes-256-gcm"] {
                want.insert((op.to_string(), size, cipher.to_string()));
            }
        }
    }
    assert_eq!(rows.len(), 8);
    assert_eq!(got, want);
    for r in &rows {
        let f = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k} missing in {r}"));
        assert!(f("ios") > 0.0, "{r}");
        // Only whole I/Os count, and throughput is those bytes over the measured time.
        assert_eq!(f("bytes"), f("ios") * f("size"), "{r}");
        assert!((f("gbps") - f("bytes") / f("seconds") / 1e9).abs() < 1e-9, "{r}");
        // The measured part at least (the threads and the clock start at one gate).
        assert!(f("seconds") >= 0.29, "{r}");
        assert!(f("p50_us") <= f("p99_us") && f("p99_us") <= f("p999_us"), "{r}");
        // Raw TCP measured just before and just after the row; the row is read against the mean.
        assert!(f("anchor_tcp_gbps_before") > 0.0 && f("anchor_tcp_gbps_after") > 0.0, "{r}");
        let mean = (f("anchor_tcp_gbps_before") + f("anchor_tcp_gbps_after")) / 2.0;
        assert!((f("anchor_tcp_gbps") - mean).abs() < 1e-9, "{r}");
        assert!((f("vs_tcp") - f("gbps") / f("anchor_tcp_gbps")).abs() < 1e-9, "{r}");
        assert!(f("client_cpu_s_per_gb") > 0.0, "{r}");
        assert!(r["server_cpu_s_per_gb"].is_null(), "no --server-pid, no server figure: {r}");
    }
    let befores: BTreeSet<u64> =
        rows.iter().map(|r| r["anchor_tcp_gbps_before"].as_f64().unwrap().to_bits()).collect();
    assert_eq!(befores.len(), rows.len(), "each row has an anchor of its own");
    // --plot: a line per cipher × op (two sizes each), the anchor as a reference line.
    let svg = std::fs::read_to_string(&plot).expect("--plot wrote the SVG");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for cipher in ["aes-128-gcm", "aes-256-gcm"] {
        for op in ["read", "write"] {
            assert!(svg.contains(&format!("tcp {cipher} {op}")), "no {cipher} {op} line: {svg}");
        }
    }
    assert_eq!(svg.matches("<circle").count(), 8, "a point per row");
    assert!(svg.contains("raw loopback TCP") && svg.contains("(anchor)"));
    // The same rows saved with --json draw the same picture with `smbdx plot`.
    let saved = plots.path().join("rows.json");
    std::fs::write(&saved, &out.stdout).unwrap();
    let again = plots.path().join("again.svg");
    let p = smbdx(&["plot", saved.to_str().unwrap(), again.to_str().unwrap()], "");
    assert!(p.status.success(), "{}", text(&p));
    assert_eq!(std::fs::read_to_string(&again).unwrap(), svg);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "bench file left behind: {left:?}");

    // The same server, a wrong password: the logon failure's exit code, and no rows.
    let out = smbdx(&["bench", &url, "--duration", "0.1", "--json"], "wrong");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"gbps\""));
    serve.stop();
}

#[test]
fn demo_measures_every_row_beside_the_anchor_and_says_where_to_go_next() {
    let out = smbdx(&["demo", "--seconds", "0.1", "--file-size", "8m"], "");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("# anchor: raw loopback TCP"), "{t}");
    let rows: Vec<&str> = t.lines().filter(|l| l.starts_with("tcp ")).collect();
    assert_eq!(rows.len(), 12, "{t}");
    for cipher in ["none", "aes-128-gcm", "aes-256-gcm"] {
        for op in ["read", "write"] {
            for size in ["64k", "1m"] {
                assert!(
                    rows.iter().any(|r| {
                        let f: Vec<&str> = r.split_whitespace().collect();
                        f[1] == cipher && f[2] == op && f[3] == size && f[6].parse::<f64>().unwrap() > 0.0
                    }),
                    "no {cipher} {op} {size} row with a throughput: {t}"
                );
            }
        }
    }
    assert!(t.contains("Where next"), "{t}");
}
