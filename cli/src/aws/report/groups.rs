//! `report`'s totals: the job's cost split by each `--label` column's values and under each of its `--tag`s
//! ([`ecsub_core::cost::groups`]), printed after the table or alone (`--totals`) as text, TSV or JSON.

use crate::args::ReportOutput;
use ecsub_core::cost::format_usd;
use ecsub_core::cost::groups::{LabelGroup, TagGroup};
use serde::Serialize;

/// What `--totals` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    pub job: String,
    /// `None` until the job has ended and been priced (or with `--skip-price`).
    pub usd: Option<f64>,
    pub by_label: Vec<LabelGroup>,
    pub by_tag: Vec<TagGroup>,
    /// Why there are no figures, when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The totals in the chosen output.
pub fn render(totals: &Totals, output: ReportOutput) -> String {
    match output {
        ReportOutput::Json => serde_json::to_string_pretty(totals).unwrap_or_default() + "\n",
        ReportOutput::Tsv => {
            let mut out = String::from("by\tname\tvalue\ttasks\tattempts\tusd\n");
            for g in &totals.by_label {
                out.push_str(&format!(
                    "label\t{}\t{}\t{}\t{}\t{:.6}\n",
                    g.label, g.value, g.tasks, g.attempts, g.usd
                ));
            }
            for t in &totals.by_tag {
                out.push_str(&format!("tag\t{}\t{}\t\t\t{:.6}\n", t.key, t.value, t.usd));
            }
            out
        }
        ReportOutput::Text => text(totals),
    }
}

fn text(totals: &Totals) -> String {
    let mut out = String::new();
    if let Some(note) = &totals.note {
        out.push_str(&format!("cost: {note}\n"));
        return out;
    }
    let mut label = None;
    for g in &totals.by_label {
        if label != Some(&g.label) {
            out.push_str(&format!("cost by --label {}:\n", g.label));
            label = Some(&g.label);
        }
        let value = if g.value.is_empty() {
            "(empty)"
        } else {
            &g.value
        };
        out.push_str(&format!(
            "  {value}: {} ({} tasks, {} attempts)\n",
            format_usd(g.usd),
            g.tasks,
            g.attempts
        ));
    }
    if !totals.by_tag.is_empty() {
        let tags: Vec<String> = totals
            .by_tag
            .iter()
            .map(|t| format!("{}={}", t.key, t.value))
            .collect();
        out.push_str(&format!(
            "cost under the job's tags ({}): {} (the whole job)\n",
            tags.join(", "),
            format_usd(totals.by_tag[0].usd)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals() -> Totals {
        Totals {
            job: "wc-abcde".into(),
            usd: Some(0.0123),
            by_label: vec![
                LabelGroup {
                    label: "cohort".into(),
                    value: "A".into(),
                    tasks: 2,
                    attempts: 3,
                    usd: 0.01,
                },
                LabelGroup {
                    label: "cohort".into(),
                    value: String::new(),
                    tasks: 1,
                    attempts: 1,
                    usd: 0.0023,
                },
            ],
            by_tag: vec![TagGroup {
                key: "project".into(),
                value: "p1".into(),
                usd: 0.0123,
            }],
            note: None,
        }
    }

    #[test]
    fn text_names_each_column_once_and_each_value_with_its_share() {
        assert_eq!(
            render(&totals(), ReportOutput::Text),
            "cost by --label cohort:\n  A: $0.0100 (2 tasks, 3 attempts)\n  (empty): $0.0023 (1 tasks, 1 \
             attempts)\ncost under the job's tags (project=p1): $0.0123 (the whole job)\n"
        );
        let tsv = render(&totals(), ReportOutput::Tsv);
        assert_eq!(tsv.lines().nth(1), Some("label\tcohort\tA\t2\t3\t0.010000"));
        let json: serde_json::Value =
            serde_json::from_str(&render(&totals(), ReportOutput::Json)).unwrap();
        assert_eq!(json["by_tag"][0]["key"], "project");
    }
}
