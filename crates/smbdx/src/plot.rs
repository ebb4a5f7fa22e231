//! `smbdx bench --plot FILE.svg` and `smbdx plot ROWS.json FILE.svg`: what a benchmark measured, as
//! a picture: throughput by I/O size, one line per transport × cipher × op (colour by transport and
//! cipher, dashes by op), raw loopback TCP (the anchor) as a reference line.
//!
//! Drawn from the rows as `smbdx bench --json` prints them, so a saved run can be drawn later. A
//! hand-written SVG: a plotting crate would be most of the binary for a few lines and labels.

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

const W: f64 = 800.0;
const H: f64 = 420.0;
/// The plot area: left, right, top, bottom.
const L: f64 = 64.0;
const R: f64 = 560.0;
const T: f64 = 40.0;
const B: f64 = 370.0;

const COLORS: [&str; 8] =
    ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One line of the plot.
#[derive(Debug, Default)]
struct Series {
    /// (size, GB/s), by size.
    points: BTreeMap<u64, f64>,
}

/// Why rows cannot be drawn.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlotError {
    #[error("no benchmark rows to draw (expected `smbdx bench --json` lines)")]
    NoRows,
}

/// The SVG of `rows` (objects with transport, cipher, op, size, gbps and optionally
/// anchor_tcp_gbps). Rows missing a field are left out.
pub fn svg(rows: &[Value]) -> Result<String, PlotError> {
    let mut series: BTreeMap<(String, String, String), Series> = BTreeMap::new();
    let mut anchors = Vec::new();
    for r in rows {
        let (Some(t), Some(c), Some(op), Some(size), Some(gbps)) = (
            r["transport"].as_str(),
            r["cipher"].as_str(),
            r["op"].as_str(),
            r["size"].as_u64(),
            r["gbps"].as_f64(),
        ) else {
            continue;
        };
        if size == 0 || !gbps.is_finite() {
            continue;
        }
        series.entry((t.into(), c.into(), op.into())).or_default().points.insert(size, gbps);
        if let Some(a) = r["anchor_tcp_gbps"].as_f64().filter(|a| a.is_finite()) {
            anchors.push(a);
        }
    }
    if series.is_empty() {
        return Err(PlotError::NoRows);
    }
    let anchor = (!anchors.is_empty()).then(|| anchors.iter().sum::<f64>() / anchors.len() as f64);
    let sizes: Vec<u64> = {
        let mut v: Vec<u64> = series.values().flat_map(|s| s.points.keys().copied()).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let top = series.values().flat_map(|s| s.points.values().copied()).chain(anchor).fold(0.0, f64::max);
    let ymax = nice_ceiling(top * 1.1);
    let (lo, hi) = ((sizes[0] as f64).log2(), (sizes[sizes.len() - 1] as f64).log2());
    let x = |size: u64| {
        if hi > lo {
            L + (R - L) * ((size as f64).log2() - lo) / (hi - lo)
        } else {
            (L + R) / 2.0
        }
    };
    let y = |g: f64| B - (B - T) * g / ymax;

    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(o, r##"<rect width="{W}" height="{H}" fill="#fff"/>"##);
    let _ = writeln!(o, r#"<text x="{L}" y="22" font-size="15">smbdx bench: throughput by I/O size</text>"#);
    // Axes, grid and ticks.
    for i in 0..=5 {
        let g = ymax * f64::from(i) / 5.0;
        let _ = writeln!(
            o,
            r##"<line x1="{L}" y1="{y:.1}" x2="{R}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{g:.2}</text>"##,
            y = y(g),
            tx = L - 6.0,
            ty = y(g) + 4.0
        );
    }
    for &s in &sizes {
        let _ = writeln!(
            o,
            r##"<line x1="{x:.1}" y1="{B}" x2="{x:.1}" y2="{b2}" stroke="#999"/><text x="{x:.1}" y="{ty}" text-anchor="middle">{label}</text>"##,
            x = x(s),
            b2 = B + 5.0,
            ty = B + 19.0,
            label = esc(&crate::bench_smb::size_label(s as usize))
        );
    }
    let _ = writeln!(
        o,
        r##"<line x1="{L}" y1="{B}" x2="{R}" y2="{B}" stroke="#555"/><line x1="{L}" y1="{T}" x2="{L}" y2="{B}" stroke="#555"/>"##
    );
    let _ = writeln!(
        o,
        r#"<text x="{cx}" y="{ty}" text-anchor="middle">I/O size</text><text transform="translate(16 {cy}) rotate(-90)" text-anchor="middle">GB/s</text>"#,
        cx = (L + R) / 2.0,
        ty = B + 40.0,
        cy = (T + B) / 2.0
    );
    // The anchor.
    let mut legend = Vec::new();
    if let Some(a) = anchor {
        let _ = writeln!(
            o,
            r##"<line class="anchor" x1="{L}" y1="{y:.1}" x2="{R}" y2="{y:.1}" stroke="#000" stroke-width="1.5" stroke-dasharray="2 4"/>"##,
            y = y(a)
        );
        legend.push((format!("raw loopback TCP {a:.2} GB/s"), "#000".to_string(), "2 4"));
    }
    // One line per transport × cipher × op.
    let mut colors: BTreeMap<(String, String), &str> = BTreeMap::new();
    for ((t, c, op), s) in &series {
        let n = colors.len();
        let color = *colors.entry((t.clone(), c.clone())).or_insert(COLORS[n % COLORS.len()]);
        let dash = match op.as_str() {
            "read" => "none",
            "write" => "7 4",
            _ => "2 2",
        };
        let pts: Vec<String> = s.points.iter().map(|(&sz, &g)| format!("{:.1},{:.1}", x(sz), y(g))).collect();
        let name = format!("{t} {c} {op}");
        let _ = writeln!(
            o,
            r#"<polyline class="series" data-series="{n}" fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}" points="{p}"/>"#,
            n = esc(&name),
            p = pts.join(" ")
        );
        for (&sz, &g) in &s.points {
            let _ = writeln!(
                o,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{} {}: {g:.3} GB/s</title></circle>"#,
                x(sz),
                y(g),
                esc(&name),
                esc(&crate::bench_smb::size_label(sz as usize))
            );
        }
        legend.push((name, color.to_string(), dash));
    }
    for (i, (name, color, dash)) in legend.iter().enumerate() {
        let ly = T + 8.0 + 20.0 * i as f64;
        let _ = writeln!(
            o,
            r#"<line x1="{x1}" y1="{ly}" x2="{x2}" y2="{ly}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{tx}" y="{ty}">{n}</text>"#,
            x1 = R + 16.0,
            x2 = R + 44.0,
            tx = R + 50.0,
            ty = ly + 4.0,
            n = esc(name)
        );
    }
    o.push_str("</svg>\n");
    Ok(o)
}

/// 1, 2 or 5 times a power of ten, at least `v` (and above zero).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|&c| c >= v).unwrap_or(10.0 * p)
}

/// Draws `rows` into the SVG file `path`.
pub fn write(path: &std::path::Path, rows: &[Value]) -> Result<(), crate::failure::Failure> {
    let svg = svg(rows).map_err(|e| crate::failure::Failure::new(1, e.to_string()))?;
    std::fs::write(path, svg).map_err(|e| crate::failure::Failure::local("writing", path, e))
}

/// `smbdx plot ROWS.json OUT.svg`.
pub fn run(args: &crate::cli::PlotArgs) -> Result<(), crate::failure::Failure> {
    let text = std::fs::read_to_string(&args.rows)
        .map_err(|e| crate::failure::Failure::local("reading", &args.rows, e))?;
    write(&args.svg, &rows_of(&text))
}

/// The `{...}` lines of `smbdx bench --json` output (anything else is skipped).
pub fn rows_of(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(cipher: &str, op: &str, size: u64, gbps: f64) -> Value {
        json!({"transport": "tcp", "cipher": cipher, "op": op, "size": size, "gbps": gbps, "anchor_tcp_gbps": 4.0})
    }

    #[test]
    fn one_line_per_transport_cipher_and_op_with_the_anchor() {
        let rows = vec![
            row("none", "read", 65536, 1.0),
            row("none", "read", 1 << 20, 2.0),
            row("aes-128-gcm", "read", 65536, 0.5),
            row("aes-128-gcm", "read", 1 << 20, 1.5),
            row("aes-128-gcm", "write", 65536, 0.4),
            json!({"note": "not a row"}),
        ];
        let s = svg(&rows).unwrap();
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("<polyline").count(), 3);
        assert!(s.contains(r#"data-series="tcp aes-128-gcm write""#));
        assert_eq!(s.matches("<circle").count(), 5);
        assert!(s.contains("class=\"anchor\"") && s.contains("raw loopback TCP 4.00 GB/s"));
        assert!(s.contains(">64k<") && s.contains(">1m<"), "size ticks labelled like the flags");
        // The 1 MiB point is right of the 64 KiB one and higher (a larger GB/s is drawn higher).
        let pts = s.split("data-series=\"tcp none read\"").nth(1).unwrap();
        let pts = pts.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
        let p: Vec<(f64, f64)> = pts
            .split(' ')
            .map(|xy| {
                let (x, y) = xy.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert!(p[1].0 > p[0].0 && p[1].1 < p[0].1, "{p:?}");
    }

    #[test]
    fn nothing_to_draw_is_an_error_and_names_are_escaped() {
        assert_eq!(svg(&[]), Err(PlotError::NoRows));
        assert_eq!(svg(&[json!({"gbps": 1.0})]), Err(PlotError::NoRows));
        let s = svg(&[json!({"transport": "<x>", "cipher": "c", "op": "read", "size": 4096, "gbps": 0.1})])
            .unwrap();
        assert!(s.contains("&lt;x&gt;") && !s.contains("<x>"));
    }

    #[test]
    fn ceilings_are_round() {
        assert_eq!(nice_ceiling(3.3), 5.0);
        assert_eq!(nice_ceiling(0.42), 0.5);
        assert_eq!(nice_ceiling(10.0), 10.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(rows_of("# header\n{\"a\":1}\nnot json\n{bad\n").len(), 1);
    }
}
