//! `report --html FILE`: one self-contained page (no script, font or style fetched from anywhere) with the job's
//! totals and a timeline — one row per task, one bar per attempt from its instance's launch to its termination:
//! the part before the task started (booting, joining, pulling), the task's run coloured by its outcome, the part
//! after it stopped (outputs checked, instance terminated) — then the table of attempts.

use super::rows::Row;
use ecsub_core::cost::format_usd;
use ecsub_core::time::rfc3339_ms;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What the page says about the job as a whole.
#[derive(Debug, Clone)]
pub struct Totals {
    pub job_id: String,
    pub state: String,
    /// Task index → its outcome (the last attempt's).
    pub outcomes: BTreeMap<usize, String>,
    pub usd: Option<f64>,
    /// Tasks `--skip-existing` left out.
    pub skipped: usize,
}

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// Colours by outcome (also what a look at the page's screenshot finds).
pub const COLOURS: [(&str, &str); 5] = [
    ("succeeded", "#2e9e44"),
    ("failed", "#d1242f"),
    ("outputs-missing", "#bf3989"),
    ("interrupted", "#e36209"),
    ("infrastructure-error", "#6e40c9"),
];
const BOOT: &str = "#9aa4ae";
const AFTER: &str = "#c9d1d9";

/// The page.
pub fn page(totals: &Totals, rows: &[Row]) -> String {
    let times: Vec<i64> = rows
        .iter()
        .flat_map(|r| {
            [
                &r.instance_create_at,
                &r.task_start_at,
                &r.task_end_at,
                &r.instance_stop_at,
            ]
        })
        .filter_map(|t| t.as_deref().and_then(rfc3339_ms))
        .collect();
    let start = times.iter().copied().min().unwrap_or(0);
    let end = times.iter().copied().max().unwrap_or(0).max(start + 1);
    let span = (end - start) as f64;
    let at = |t: &Option<String>| t.as_deref().and_then(rfc3339_ms);
    let pct = |ms: i64| (ms - start) as f64 * 100.0 / span;

    let mut by_outcome: BTreeMap<&str, usize> = BTreeMap::new();
    for outcome in totals.outcomes.values() {
        *by_outcome.entry(outcome.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = by_outcome
        .iter()
        .map(|(o, n)| format!("{n} {}", escape(o)))
        .collect();
    let wall = if times.is_empty() {
        "-".to_owned()
    } else {
        crate::table::human(std::time::Duration::from_millis(
            u64::try_from(end - start).unwrap_or(0),
        ))
    };

    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ecsub job {id}</title>\n<style>\n\
         body{{font:14px system-ui,sans-serif;margin:16px;color:#1f2328;background:#fff}}\n\
         h1{{font-size:20px;margin:0 0 8px}} .totals span{{margin-right:18px}}\n\
         .timeline{{margin:16px 0;border-left:1px solid #8c959f}}\n\
         .task-row{{position:relative;height:22px;border-bottom:1px solid #eaeef2}}\n\
         .task-row .label{{position:absolute;left:-52px;width:46px;text-align:right;font:12px monospace;line-height:22px}}\n\
         .attempt{{position:absolute;top:3px;height:16px;min-width:2px;display:flex;overflow:hidden;border-radius:2px}}\n\
         .attempt span{{height:100%;display:block}} .attempt span.run{{min-width:2px}}\n\
         table{{border-collapse:collapse;font-size:12px}} td,th{{border:1px solid #d0d7de;padding:2px 6px;text-align:left}}\n\
         .legend i{{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle;opacity:.6}}\n\
         </style></head><body>\n<h1>ecsub job {id}: {state}</h1>\n<div class=\"totals\"><span class=\"tasks\">{n} tasks: {counts}</span>\
         <span class=\"wall\">wall time {wall}</span><span class=\"cost\">cost {cost}</span><span>{attempts} attempts</span>{skipped}</div>\n",
        id = escape(&totals.job_id),
        state = escape(&totals.state),
        n = totals.outcomes.len(),
        counts = counts.join(", "),
        cost = totals.usd.map_or_else(|| "not priced".to_owned(), format_usd),
        attempts = rows.len(),
        skipped = if totals.skipped > 0 {
            format!(
                "<span class=\"skipped\">{} skipped (outputs existed)</span>",
                totals.skipped
            )
        } else {
            String::new()
        },
    );
    out.push_str("<div class=\"legend\">");
    for (name, colour) in [("before the task ran", BOOT)]
        .into_iter()
        .chain(COLOURS)
        .chain([("after it stopped", AFTER)])
    {
        let _ = write!(out, "<i style=\"background:{colour}\"></i>{}", escape(name));
    }
    out.push_str("</div>\n<div class=\"timeline\" style=\"margin-left:56px\">\n");
    let mut tasks: BTreeMap<usize, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        tasks.entry(row.no).or_default().push(row);
    }
    for (no, attempts) in &tasks {
        let _ = write!(
            out,
            "<div class=\"task-row\" data-task=\"{no}\"><span class=\"label\">{no:03}</span>"
        );
        for r in attempts {
            let (Some(from), Some(to)) = (
                at(&r.instance_create_at).or(at(&r.task_start_at)),
                at(&r.instance_stop_at)
                    .or(at(&r.task_end_at))
                    .or(at(&r.task_start_at)),
            ) else {
                continue;
            };
            let to = to.max(from);
            let whole = (to - from).max(1) as f64;
            let started = at(&r.task_start_at).unwrap_or(from).clamp(from, to);
            let stopped = at(&r.task_end_at).unwrap_or(to).clamp(started, to);
            let colour = COLOURS
                .iter()
                .find(|(o, _)| *o == r.outcome)
                .map_or(AFTER, |(_, c)| c);
            let share = |a: i64, b: i64| (b - a) as f64 * 100.0 / whole;
            let title = format!(
                "task {:03} attempt {}: {}{} on {}{}, {}",
                r.no,
                r.attempt,
                r.outcome,
                r.exit_code
                    .map(|c| format!(" (exit {c})"))
                    .unwrap_or_default(),
                r.instance_type.as_deref().unwrap_or("-"),
                if r.spot { " spot" } else { "" },
                r.price.map_or_else(|| "not priced".to_owned(), format_usd),
            );
            let _ = write!(
                out,
                "<div class=\"attempt outcome-{outcome}\" data-attempt=\"{attempt}\" title=\"{title}\" \
                 style=\"left:{left:.3}%;width:{width:.3}%\"><span class=\"before\" style=\"width:{b:.3}%;background:{BOOT}\"></span>\
                 <span class=\"run\" style=\"width:{run:.3}%;background:{colour}\"></span><span class=\"after\" \
                 style=\"width:{a:.3}%;background:{AFTER}\"></span></div>",
                outcome = escape(&r.outcome),
                attempt = r.attempt,
                title = escape(&title),
                left = pct(from),
                width = (pct(to) - pct(from)).max(0.2),
                b = share(from, started),
                run = share(started, stopped),
                a = share(stopped, to),
            );
        }
        out.push_str("</div>\n");
    }
    out.push_str("</div>\n<table class=\"attempts\"><tr>");
    for column in super::rows::COLUMNS {
        let _ = write!(out, "<th>{column}</th>");
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in super::rows::cells(row).iter().enumerate() {
            if super::rows::COLUMNS[i] == "log" && cell.starts_with("https://") {
                let _ = write!(out, "<td><a href=\"{0}\">log</a></td>", escape(cell));
            } else {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_a_row_per_task_and_a_bar_per_attempt_and_fetches_nothing() {
        let rows = super::super::rows::tests::sample();
        let totals = Totals {
            job_id: "wc-abcde".into(),
            state: "succeeded".into(),
            outcomes: BTreeMap::from([(0, "succeeded".into()), (1, "succeeded".into())]),
            usd: Some(0.0123),
            skipped: 0,
        };
        let html = page(&totals, &rows);
        assert_eq!(html.matches("class=\"task-row\"").count(), 2);
        assert_eq!(html.matches("class=\"attempt ").count(), 3);
        assert_eq!(
            html.matches("class=\"attempt outcome-interrupted\"")
                .count(),
            1
        );
        assert!(html.contains("2 tasks: 2 succeeded"));
        assert!(html.contains("cost $0.0123"));
        // Task 0's first attempt starts the timeline: launched 03:10, ran 03:12–03:15, terminated 03:16; the job
        // ends at 03:26 (task 0's second attempt), so the bar spans 6 of 16 minutes.
        assert!(
            html.contains("style=\"left:0.000%;width:37.500%\""),
            "{html}"
        );
        for fetch in ["src=", "<link", "@import", "url("] {
            assert!(!html.contains(fetch), "the page fetches something: {fetch}");
        }
        assert!(!html.contains("<script"));
    }
}
