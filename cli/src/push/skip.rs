//! `push --skip-existing`: the tasks whose declared outputs all exist already are left out of the job, by dsub's
//! rules — a file output by its object, a recursive output when its folder holds an object (`s3://b/data/` is not
//! satisfied by `data2/`), a wildcard when something matches it. A task with no output is never skipped. Which
//! outputs exist is asked of S3 (the CLI's `aws` module); what is left to run is decided here.

use super::subset;
use crate::plan::{Plan, Source};
use ecsub_core::tasks::Cell;
use ecsub_core::{JobArgs, S3Path};
use std::collections::{BTreeMap, BTreeSet};

/// The selected tasks that declare outputs, with them.
pub fn declared_outputs(plan: &Plan) -> BTreeMap<usize, Vec<S3Path>> {
    let mut outputs = BTreeMap::new();
    for task in plan.selected_tasks() {
        let declared: Vec<S3Path> = task
            .cells_with(&plan.tasks.columns)
            .filter_map(|(column, cell)| match (column.kind.is_output(), cell) {
                (true, Cell::Path(path)) => Some(path.clone()),
                _ => None,
            })
            .collect();
        if !declared.is_empty() {
            outputs.insert(task.index, declared);
        }
    }
    outputs
}

/// The job without the `skipped` tasks, said on stderr; `None` when none is left.
pub fn the_rest(plan: &Plan, skipped: &BTreeSet<usize>) -> Option<Source> {
    let numbers = |set: &BTreeSet<usize>| {
        set.iter()
            .map(|i| format!("{i:03}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let keep: BTreeSet<usize> = plan
        .selected
        .clone()
        .filter(|i| !skipped.contains(i))
        .collect();
    say!(
        "ecsub-cli: --skip-existing: {} of {} tasks have every output already and are skipped: {}",
        skipped.len(),
        plan.selected_tasks().len(),
        numbers(skipped)
    );
    if keep.is_empty() {
        return None;
    }
    say!(
        "ecsub-cli: running the other {} ({}), numbered 000 to {:03} in the job",
        keep.len(),
        numbers(&keep),
        keep.len() - 1
    );
    Some(Source {
        tasks_name: plan.tasks.file.clone(),
        tasks_bytes: subset::rows(&plan.tasks_bytes, &plan.tasks, &keep),
        script: Ok(plan.script_bytes.clone()),
        // The options as merged from the command line and the file's `#ecsub:` lines (which the rows left out),
        // without --task-range: the rows are picked already.
        typed: JobArgs {
            task_range: None,
            ..plan.args.clone()
        },
    })
}
