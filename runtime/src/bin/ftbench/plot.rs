//! The picture of a benchmark run (`--svg FILE`): every row's single-client
//! latency distribution beside the floor's, and the failover run's completed
//! calls over time around the kill.

use crate::measure::{quantile, FailoverRun, Samples};
use std::fmt::Write;

/// Width of the picture, in SVG units (pixels at 100 %).
const WIDTH: f64 = 900.0;
/// Height of the latency panel and of the failover panel.
const LATENCY_HEIGHT: f64 = 400.0;
const FAILOVER_HEIGHT: f64 = 250.0;
/// Plot area margins inside a panel: left, right, top, bottom.
const MARGIN: (f64, f64, f64, f64) = (70.0, 35.0, 40.0, 45.0);
/// Points per distribution curve (quantiles at even steps).
const CURVE_POINTS: usize = 200;
/// The failover panel's window around the kill, and its bins, in ms.
const BEFORE_MS: f64 = 1_000.0;
const AFTER_MS: f64 = 3_000.0;
const BIN_MS: f64 = 20.0;
/// One colour per curve, in row order; the floor is drawn in white.
const COLOURS: [&str; 6] = [
    "#4fc3f7", "#81c784", "#ffb74d", "#e57373", "#ba68c8", "#fff176",
];

/// The whole picture: the latency panel above the failover panel (when there
/// was a failover run).
pub fn picture(
    floor: &Samples,
    rows: &[(String, &Samples)],
    failover: Option<&FailoverRun>,
) -> String {
    let height = LATENCY_HEIGHT + failover.map_or(0.0, |_| FAILOVER_HEIGHT);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"{WIDTH}\" height=\"{height}\" fill=\"#14181c\"/>\n"
    );
    latency_panel(&mut svg, floor, rows);
    if let Some(run) = failover {
        failover_panel(&mut svg, LATENCY_HEIGHT, run);
    }
    svg.push_str("</svg>\n");
    svg
}

/// The plot area of a panel whose top is at `top`: x from, x to, y top, y bottom.
fn area(top: f64, height: f64) -> (f64, f64, f64, f64) {
    let (l, r, t, b) = MARGIN;
    (l, WIDTH - r, top + t, top + height - b)
}

fn text(svg: &mut String, x: f64, y: f64, anchor: &str, colour: &str, s: &str) {
    let _ = writeln!(
        svg,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" fill=\"{colour}\">{s}</text>"
    );
}

fn line(svg: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64), style: &str) {
    let _ = writeln!(
        svg,
        "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" {style}/>"
    );
}

const AXIS: &str = "stroke=\"#9aa4ad\" stroke-width=\"1\"";
const GRID: &str = "stroke=\"#2c343b\" stroke-width=\"1\"";

/// Cumulative distributions on a logarithmic time axis: for each latency, the
/// share of calls that took at most that long.
fn latency_panel(svg: &mut String, floor: &Samples, rows: &[(String, &Samples)]) {
    let (x0, x1, y0, y1) = area(0.0, LATENCY_HEIGHT);
    let mut curves: Vec<(String, &str, Vec<u64>)> =
        vec![("floor (echo)".to_string(), "#ffffff", floor.sorted())];
    for (i, (name, samples)) in rows.iter().enumerate() {
        curves.push((name.clone(), COLOURS[i % COLOURS.len()], samples.sorted()));
    }
    curves.retain(|c| !c.2.is_empty());
    let lowest = curves.iter().map(|c| c.2[0]).min().unwrap_or(1).max(1);
    let highest = curves
        .iter()
        .filter_map(|c| c.2.last().copied())
        .max()
        .unwrap_or(10);
    // Whole decades of microseconds around every sample.
    let lo_decade = (lowest as f64).log10().floor();
    let hi_decade = (highest.max(lowest + 1) as f64)
        .log10()
        .ceil()
        .max(lo_decade + 1.0);
    let x_of = |us: u64| {
        let f = ((us.max(1) as f64).log10() - lo_decade) / (hi_decade - lo_decade);
        x0 + f.clamp(0.0, 1.0) * (x1 - x0)
    };
    let y_of = |share: f64| y1 - share * (y1 - y0);

    text(
        svg,
        x0,
        24.0,
        "start",
        "#e0e6eb",
        "Single-client call latency: share of calls completed within a time (log scale)",
    );
    for d in (lo_decade as i32)..=(hi_decade as i32) {
        let x = x0 + (d as f64 - lo_decade) / (hi_decade - lo_decade) * (x1 - x0);
        line(svg, (x, y0), (x, y1), GRID);
        let label = match d {
            0..=2 => format!("{} µs", 10u64.pow(d as u32)),
            3..=5 => format!("{} ms", 10u64.pow(d as u32 - 3)),
            _ => format!("{} s", 10u64.pow((d as u32).saturating_sub(6))),
        };
        text(svg, x, y1 + 18.0, "middle", "#9aa4ad", &label);
    }
    for q in [0.0, 0.25, 0.5, 0.75, 0.9, 1.0] {
        line(svg, (x0, y_of(q)), (x1, y_of(q)), GRID);
        text(
            svg,
            x0 - 8.0,
            y_of(q) + 4.0,
            "end",
            "#9aa4ad",
            &format!("{:.0}%", q * 100.0),
        );
    }
    line(svg, (x0, y1), (x1, y1), AXIS);
    line(svg, (x0, y0), (x0, y1), AXIS);

    for (k, (name, colour, sorted)) in curves.iter().enumerate() {
        let mut d = String::new();
        for p in 0..=CURVE_POINTS {
            let share = p as f64 / CURVE_POINTS as f64;
            let cmd = if p == 0 { 'M' } else { 'L' };
            let x = x_of(quantile(sorted, share));
            let _ = write!(d, "{cmd}{x:.1},{:.1} ", y_of(share));
        }
        let _ = writeln!(
            svg,
            "<path d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
            d.trim_end()
        );
        // The legend, bottom right, one line per curve.
        let ly = y1 - 12.0 - 16.0 * (curves.len() - 1 - k) as f64;
        let lx = x1 - 330.0;
        line(
            svg,
            (lx, ly - 4.0),
            (lx + 24.0, ly - 4.0),
            &format!("stroke=\"{colour}\" stroke-width=\"2\""),
        );
        let (p50, p99) = (quantile(sorted, 0.5), quantile(sorted, 0.99));
        text(
            svg,
            lx + 30.0,
            ly,
            "start",
            "#e0e6eb",
            &format!("{name}: p50 {p50} µs, p99 {p99} µs"),
        );
    }
}

/// Completed calls per bin around the kill of the sequencer's kernel.
fn failover_panel(svg: &mut String, top: f64, run: &FailoverRun) {
    let (x0, x1, y0, y1) = area(top, FAILOVER_HEIGHT);
    let bins = ((BEFORE_MS + AFTER_MS) / BIN_MS) as usize;
    let counts = bin_counts(&run.completions_ms, bins);
    let highest = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let x_of = |ms: f64| x0 + (ms + BEFORE_MS) / (BEFORE_MS + AFTER_MS) * (x1 - x0);

    text(
        svg,
        x0,
        top + 24.0,
        "start",
        "#e0e6eb",
        &format!(
            "Failover: calls completed per {BIN_MS:.0} ms while the sequencer's kernel is SIGKILLed (at 0)"
        ),
    );
    for s in -1..=3 {
        let x = x_of(s as f64 * 1_000.0);
        line(svg, (x, y0), (x, y1), GRID);
        text(svg, x, y1 + 18.0, "middle", "#9aa4ad", &format!("{s} s"));
    }
    text(
        svg,
        x0 - 8.0,
        y0 + 4.0,
        "end",
        "#9aa4ad",
        &format!("{highest:.0}"),
    );
    text(svg, x0 - 8.0, y1 + 4.0, "end", "#9aa4ad", "0");
    let width = (x1 - x0) / bins as f64;
    for (i, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
        let h = *c as f64 / highest * (y1 - y0);
        let _ = writeln!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{h:.1}\" fill=\"#4fc3f7\"/>",
            x0 + i as f64 * width,
            y1 - h,
            width.max(1.0)
        );
    }
    line(svg, (x0, y1), (x1, y1), AXIS);
    let kill = x_of(0.0);
    line(
        svg,
        (kill, y0 - 6.0),
        (kill, y1),
        "stroke=\"#e57373\" stroke-width=\"2\"",
    );
    text(svg, kill + 6.0, y0 + 8.0, "start", "#e57373", "kill");
    let next = x_of(run.resumed_ms);
    line(
        svg,
        (kill, y0 - 4.0),
        (next, y0 - 4.0),
        "stroke=\"#ffb74d\" stroke-width=\"2\"",
    );
    text(
        svg,
        x1,
        top + 24.0,
        "end",
        "#ffb74d",
        &format!(
            "service resumed {:.0} ms after the kill (a pause of {:.0} ms)",
            run.resumed_ms, run.gap_ms
        ),
    );
}

/// Completions (ms from the kill) per bin of the window `[-BEFORE_MS, AFTER_MS)`.
fn bin_counts(completions_ms: &[f64], bins: usize) -> Vec<u64> {
    let mut counts = vec![0u64; bins];
    for ms in completions_ms {
        let i = ((ms + BEFORE_MS) / BIN_MS).floor();
        if i >= 0.0 && (i as usize) < bins {
            counts[i as usize] += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(values: &[u64]) -> Samples {
        Samples::from(values.to_vec())
    }

    /// The numbers in a path's `d` as (x, y) points.
    fn points(d: &str) -> Vec<(f64, f64)> {
        d.split_whitespace()
            .map(|p| {
                let (x, y) = p
                    .trim_start_matches(['M', 'L'])
                    .split_once(',')
                    .expect("x,y");
                (x.parse().expect("x"), y.parse().expect("y"))
            })
            .collect()
    }

    #[test]
    fn one_rising_curve_per_row_and_the_floor_inside_the_plot() {
        let floor = samples(&[80, 90, 100, 120, 400]);
        let fast = samples(&(100..200).collect::<Vec<_>>());
        let slow = samples(&(1_000..50_000).step_by(7).collect::<Vec<_>>());
        let rows = vec![
            ("correct".to_string(), &fast),
            ("crash tolerate(1)".to_string(), &slow),
        ];
        let svg = picture(&floor, &rows, None);
        let paths: Vec<&str> = svg
            .match_indices("<path d=\"")
            .map(|(i, _)| {
                let rest = &svg[i + 9..];
                &rest[..rest.find('"').expect("closing quote")]
            })
            .collect();
        assert_eq!(paths.len(), 3, "the floor and two rows");
        let (x0, x1, y0, y1) = area(0.0, LATENCY_HEIGHT);
        for d in &paths {
            let pts = points(d);
            assert_eq!(pts.len(), CURVE_POINTS + 1);
            for w in pts.windows(2) {
                assert!(w[1].0 >= w[0].0, "latency never falls along a curve: {d}");
                assert!(w[1].1 < w[0].1, "the share rises along a curve: {d}");
            }
            for (x, y) in pts {
                assert!(
                    (x0..=x1).contains(&x) && (y0..=y1).contains(&y),
                    "({x}, {y}) outside"
                );
            }
        }
        // The slow row lies right of the fast one at the median.
        let median_x = |d: &str| points(d)[CURVE_POINTS / 2].0;
        assert!(median_x(paths[2]) > median_x(paths[1]) + 100.0);
        assert!(svg.contains("crash tolerate(1): p50 "));
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn the_failover_panel_counts_every_completion_in_its_window() {
        let run = FailoverRun {
            resumed_ms: 250.0,
            gap_ms: 260.0,
            completions_ms: vec![
                -2_000.0, -999.0, -10.0, -10.0, 250.0, 251.0, 2_999.0, 3_000.0,
            ],
        };
        let bins = ((BEFORE_MS + AFTER_MS) / BIN_MS) as usize;
        let counts = bin_counts(&run.completions_ms, bins);
        assert_eq!(
            counts.iter().sum::<u64>(),
            6,
            "the two outside the window are left out"
        );
        assert_eq!(counts[((1_000.0 - 10.0) / BIN_MS) as usize], 2);
        let floor = samples(&[100]);
        let svg = picture(&floor, &[], Some(&run));
        assert_eq!(
            svg.matches("<rect ").count(),
            1 + 4,
            "the background and one bar per bin used"
        );
        assert!(svg.contains("service resumed 250 ms after the kill (a pause of 260 ms)"));
    }
}
