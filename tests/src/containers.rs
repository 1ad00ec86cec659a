//! What the emulated containers printed, for a failed test's message.

/// Every file under `root`, at any depth (links not followed), in no order.
pub(crate) fn files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => folders.push(entry.path()),
                Ok(kind) if kind.is_file() => found.push(entry.path()),
                _ => {}
            }
        }
    }
    found
}

/// The last lines of the containers that did not end with run.sh's last line ("task N: the script exited 0 and
/// its outputs are uploaded"): failed, or still running; at most [`CONTAINERS_SHOWN`] of them: why a task failed,
/// which the status view only names by its exit code.
pub fn unfinished(root: &std::path::Path) -> String {
    const CONTAINERS_SHOWN: usize = 8;
    let mut logs: Vec<_> = files(root)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "container.log"))
        .collect();
    logs.sort();
    let mut out = String::new();
    let mut shown = 0;
    for path in &logs {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let succeeded = lines.last().is_some_and(|l| {
            l.starts_with("ecsub: task ")
                && l.ends_with(": the script exited 0 and its outputs are uploaded")
        });
        if succeeded {
            continue;
        }
        shown += 1;
        if shown > CONTAINERS_SHOWN {
            out.push_str("--- (more containers did not succeed)\n");
            break;
        }
        let tail = lines[lines.len().saturating_sub(8)..].join("\n");
        let name = path.strip_prefix(root).unwrap_or(path).display();
        out.push_str(&format!("--- {name}\n{tail}\n"));
    }
    out
}
