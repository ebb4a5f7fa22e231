//! `smbdx bench --plot FILE.svg` and `smbdx plot ROWS.json FILE.svg`: what a benchmark measured, as
//! a picture: throughput by I/O size, one line per transport × cipher × op (colour by transport and
//! cipher, dashes by op), raw loopback TCP (the anchor) as a reference line.
//!
//! Drawn from the rows as `smbdx bench --json` prints them, so a saved run can be drawn later, with
//! the `plotters` crate's SVG backend.

use plotters::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;

const SIZE: (u32, u32) = (820, 440);

const COLORS: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// One line of the plot: (size, GB/s), by size.
type Series = BTreeMap<u64, f64>;

/// The lines, by (transport, cipher, op).
type Lines = BTreeMap<(String, String, String), Series>;

/// Why rows cannot be drawn.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlotError {
    #[error("no benchmark rows to draw (expected `smbdx bench --json` lines)")]
    NoRows,
    #[error("drawing the plot: {0}")]
    Draw(String),
}

/// The lines of `rows` (objects with transport, cipher, op, size, gbps and optionally
/// anchor_tcp_gbps; rows missing a field are left out) and the mean anchor.
fn series_of(rows: &[Value]) -> (Lines, Option<f64>) {
    let mut series = Lines::new();
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
        series.entry((t.into(), c.into(), op.into())).or_default().insert(size, gbps);
        if let Some(a) = r["anchor_tcp_gbps"].as_f64().filter(|a| a.is_finite()) {
            anchors.push(a);
        }
    }
    let anchor = (!anchors.is_empty()).then(|| anchors.iter().sum::<f64>() / anchors.len() as f64);
    (series, anchor)
}

/// The SVG of `rows` (see [`series_of`]).
pub fn svg(rows: &[Value]) -> Result<String, PlotError> {
    let (series, anchor) = series_of(rows);
    if series.is_empty() {
        return Err(PlotError::NoRows);
    }
    let sizes: Vec<u64> = {
        let mut v: Vec<u64> = series.values().flat_map(|s| s.keys().copied()).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let top = series.values().flat_map(|s| s.values().copied()).chain(anchor).fold(0.0, f64::max);
    let ymax = nice_ceiling(top * 1.1);
    // The x axis is log2 of the size (ticks on whole powers of two, labelled like the --size flags),
    // widened by half a step each side so single sizes have room.
    let log2 = |sz: u64| (sz as f64).log2();
    let (lo, hi) = (log2(sizes[0]) - 0.5, log2(sizes[sizes.len() - 1]) + 0.5);
    let draw = |e: &dyn std::fmt::Display| PlotError::Draw(e.to_string());
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption("smbdx bench: throughput by I/O size", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(lo..hi, 0.0..ymax)
            .map_err(|e| draw(&e))?;
        chart
            .configure_mesh()
            .x_desc("I/O size")
            .y_desc("GB/s")
            .x_labels((hi - lo).ceil() as usize + 1)
            .x_label_formatter(&|v| {
                let whole = v.round();
                match (v - whole).abs() < 1e-6 && (0.0..63.0).contains(&whole) {
                    true => crate::bench_smb::size_label(1usize << whole as u32),
                    false => String::new(),
                }
            })
            .draw()
            .map_err(|e| draw(&e))?;
        if let Some(a) = anchor {
            chart
                .draw_series(LineSeries::new([(lo, a), (hi, a)], BLACK.stroke_width(1)))
                .map_err(|e| draw(&e))?
                .label(format!("raw loopback TCP {a:.2} GB/s (anchor)"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], BLACK));
        }
        let mut colors: BTreeMap<(&str, &str), RGBColor> = BTreeMap::new();
        for ((t, c, op), s) in &series {
            let n = colors.len();
            let color = *colors.entry((t, c)).or_insert(COLORS[n % COLORS.len()]);
            // Reads solid and thick, writes thin: SVG dashes are not in plotters' backend.
            let width = if op == "read" { 3 } else { 1 };
            let points: Vec<(f64, f64)> = s.iter().map(|(&sz, &g)| (log2(sz), g)).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(width)))
                .map_err(|e| draw(&e))?
                .label(format!("{t} {c} {op}"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(width)));
            chart
                .draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(|e| draw(&e))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| draw(&e))?;
        root.present().map_err(|e| draw(&e))?;
    }
    Ok(out)
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
        let (series, anchor) = series_of(&rows);
        assert_eq!(series.len(), 3, "one line per transport x cipher x op");
        assert_eq!(anchor, Some(4.0));
        let s = svg(&rows).unwrap();
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        for name in ["tcp none read", "tcp aes-128-gcm read", "tcp aes-128-gcm write"] {
            assert!(s.contains(name), "legend names {name}");
        }
        assert_eq!(s.matches("<circle").count(), 5, "one marker per row");
        assert!(s.contains("raw loopback TCP 4.00 GB/s (anchor)"));
        assert!(s.contains(">\n64k\n<") && s.contains(">\n1m\n<"), "size ticks labelled like the flags");
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
