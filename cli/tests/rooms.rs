//! The CLI's rooms: everything done with AWS is under `src/aws/`, and the `aws` feature is decided once, in
//! `src/aws/mod.rs`. Read from the sources, so that a call to the SDK's adapters from `push/` or a `#[cfg(feature
//! = "aws")]` in a command fails here.

use std::path::{Path, PathBuf};

fn sources(folder: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_aws_folder_calls_aws_and_the_feature_is_decided_once() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{e}"));
        let relative = file.strip_prefix(&src).unwrap_or(file);
        let in_aws = relative.starts_with("aws");
        if !in_aws && text.contains("ecsub_aws") {
            found.push(format!(
                "{} uses ecsub_aws outside src/aws/",
                relative.display()
            ));
        }
        for pattern in [
            "feature = \"aws\"",
            "aws_sdk_",
            "lambda_runtime",
            "ecsub_lambda",
        ] {
            let allowed = pattern == "feature = \"aws\"" && relative == Path::new("aws/mod.rs");
            if text.contains(pattern) && !allowed {
                found.push(format!("{} mentions {pattern}", relative.display()));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
