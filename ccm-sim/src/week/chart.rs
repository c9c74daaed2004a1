//! Workers over the week as a standalone SVG, written by hand (no dependency):
//! one step line per policy and a dashed one for the lablets' lower bound.

use std::fmt::Write as _;

use super::report::{WeekReport, TIMELINE_STEP_SECONDS};

const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// Workers over the week for every report, with the packing lower bound of the
/// lablets running at each instant, as a standalone SVG.
pub fn svg_chart(reports: &[WeekReport]) -> String {
    let (width, height) = (1100.0f64, 420.0f64);
    let (left, right, top, bottom) = (60.0f64, 170.0f64, 30.0f64, 40.0f64);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let minutes = reports
        .iter()
        .flat_map(|r| r.timeline.last())
        .map(|p| p.minute + TIMELINE_STEP_SECONDS / 60)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let top_value = reports
        .iter()
        .flat_map(|r| r.timeline.iter())
        .map(|p| p.workers.max(p.needed))
        .max()
        .unwrap_or(1)
        .max(1);
    let y_max = f64::from(top_value.div_ceil(5) * 5);
    let x = |minute: i64| left + minute as f64 / minutes * plot_w;
    let y = |value: u32| top + plot_h - f64::from(value) / y_max * plot_h;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{width}" height="{height}" fill="white"/><text x="{left}" y="18" font-size="14">Workers billing over the week (10-minute samples)</text>"#
    );
    // Horizontal grid with worker counts.
    let step = (y_max / 5.0).max(1.0) as u32;
    let mut value = 0;
    while f64::from(value) <= y_max {
        let yy = y(value);
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{value}</text>"##,
            left + plot_w,
            left - 6.0,
            yy + 4.0
        );
        value += step;
    }
    // A line and a label per day.
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let mut day = 0i64;
    while (day * 1440) as f64 <= minutes {
        let xx = x(day * 1440);
        let _ = writeln!(
            svg,
            r##"<line x1="{xx:.1}" y1="{top}" x2="{xx:.1}" y2="{:.1}" stroke="#bbb"/>"##,
            top + plot_h
        );
        if ((day + 1) * 1440) as f64 <= minutes {
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x(day * 1440 + 720),
                top + plot_h + 18.0,
                DAYS[(day % 7) as usize]
            );
        }
        day += 1;
    }
    let step_path = |points: &mut dyn Iterator<Item = (i64, u32)>| {
        let mut d = String::new();
        let mut last: Option<u32> = None;
        for (minute, value) in points {
            match last {
                None => {
                    let _ = write!(d, "M{:.1},{:.1}", x(minute), y(value));
                }
                Some(previous) if previous != value => {
                    let _ = write!(d, " H{:.1} V{:.1}", x(minute), y(value));
                }
                Some(_) => {}
            }
            last = Some(value);
        }
        let _ = write!(d, " H{:.1}", x(minutes as i64));
        d
    };
    let mut legend: Vec<(String, String, &str)> = Vec::new();
    if let Some(first) = reports.first() {
        let d = step_path(&mut first.timeline.iter().map(|p| (p.minute, p.needed)));
        let _ = writeln!(
            svg,
            r##"<path d="{d}" fill="none" stroke="#888" stroke-width="1.5" stroke-dasharray="4 3"/>"##
        );
        legend.push(("lablets' lower bound".into(), "#888".into(), "4 3"));
    }
    for (i, report) in reports.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let d = step_path(&mut report.timeline.iter().map(|p| (p.minute, p.workers)));
        let _ = writeln!(
            svg,
            r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.8"/>"#
        );
        legend.push((
            format!("{} ({:.0} h)", report.policy.as_str(), report.worker_hours),
            colour.into(),
            "",
        ));
    }
    for (i, (label, colour, dash)) in legend.iter().enumerate() {
        let yy = top + 10.0 + i as f64 * 20.0;
        let xx = left + plot_w + 12.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{xx:.1}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{:.1}" y="{:.1}">{label}</text>"#,
            xx + 22.0,
            xx + 28.0,
            yy + 4.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">workers</text>"#,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    svg.push_str("</svg>\n");
    svg
}
