//! The local transport's guarantees, run for real in bash and dash (local review 2026-11, findings 1, 2, 3, 12
//! and 18; test audit I1 and I2): the S3 root holds only files and folders, a path through a symbolic link is
//! refused, every file lands by rename, and folders and wildcards follow the same rules as on S3.

#![allow(clippy::unwrap_used)]

mod shell;

use ecsub_core::exit::{EXIT_INPUT_FAILED, EXIT_OUTPUT_FAILED};
use ecsub_core::JobArgs;
use shell::{Job, Outcome};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};

fn in_both_shells(job: &Job, check: impl Fn(&str, Outcome)) {
    for sh in ["bash", "dash"] {
        check(sh, job.run_with(sh, 0, &[], None));
    }
}

/// Finding 1: job 1 plants links in the root; job 2 must not write through them.
#[test]
fn a_link_planted_in_the_root_is_never_written_through() {
    let planter = Job::new(
        "--output-recursive D\ns3://bkt/results\n",
        "mkdir -p \"$D\" && ln -s \"$CANARY/secret\" \"$D/link.txt\" && ln -s \"$CANARY\" \"$D/linkdir\" \
         && echo ok > \"$D/plain.txt\"\n",
        JobArgs::default(),
    );
    let canary = planter.dir.path().join("canary");
    fs::create_dir_all(&canary).unwrap();
    fs::write(canary.join("secret"), b"secret").unwrap();
    let canary_env = canary.display().to_string();
    let planted = planter.run_with("bash", 0, &[("CANARY", &canary_env)], None);
    // A link to a file goes up as the file's bytes (as `aws s3 cp` does); a link to a folder is refused.
    assert_eq!(planted.code, EXIT_OUTPUT_FAILED, "{}", planted.log);
    assert!(
        planted.log.contains("/linkdir is a symbolic link"),
        "{}",
        planted.log
    );
    let results = planter.s3("bkt/results");
    for entry in fs::read_dir(&results).unwrap() {
        let entry = entry.unwrap();
        assert!(
            !entry.file_type().unwrap().is_symlink(),
            "a link was copied into the root: {}",
            entry.path().display()
        );
    }
    assert_eq!(fs::read(results.join("link.txt")).unwrap(), b"secret");

    // Plant the links by hand, as a user (or an older ecsub) could have, and run an innocent job through them.
    fs::remove_file(results.join("link.txt")).unwrap();
    symlink(canary.join("secret"), results.join("link.txt")).unwrap();
    symlink(&canary, results.join("linkdir")).unwrap();
    for (tsv, script) in [
        (
            "--output O\ns3://bkt/results/link.txt\n",
            "mkdir -p \"${O%/*}\" && echo OVERWRITTEN > \"$O\"\n",
        ),
        (
            "--output-recursive D\ns3://bkt/results/linkdir\n",
            "mkdir -p \"$D\" && echo x > \"$D/planted.txt\"\n",
        ),
        (
            "--output O\ns3://bkt/results/linkdir/planted.txt\n",
            "mkdir -p \"${O%/*}\" && echo x > \"$O\"\n",
        ),
        // A wildcard output whose match lands on the planted link (test audit 2026-12, M5): refused too, not
        // silently replaced.
        (
            "--output O\ns3://bkt/results/*.txt\n",
            "mkdir -p \"${O%/*}\" && echo OVERWRITTEN > \"${O%/*}/link.txt\"\n",
        ),
    ] {
        let innocent = Job::new(tsv, script, JobArgs::default());
        fs::remove_dir_all(innocent.dir.path().join("s3")).unwrap();
        symlink(
            planter.dir.path().join("s3"),
            innocent.dir.path().join("s3"),
        )
        .unwrap();
        in_both_shells(&innocent, |sh, outcome| {
            assert_eq!(outcome.code, EXIT_OUTPUT_FAILED, "{sh}: {}", outcome.log);
            assert!(
                outcome.log.contains("is a symbolic link"),
                "{sh}: {}",
                outcome.log
            );
        });
    }
    assert_eq!(fs::read(canary.join("secret")).unwrap(), b"secret");
    assert!(!canary.join("planted.txt").exists());
    assert!(
        fs::symlink_metadata(results.join("link.txt"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the planted link was replaced"
    );
}

#[test]
fn an_input_through_a_link_in_the_root_is_refused() {
    let job = Job::new(
        "--input-recursive D\ns3://bkt/in\n",
        "echo the script ran\n",
        JobArgs::default(),
    );
    job.put("bkt/in/a.txt", b"a");
    let outside = job.dir.path().join("outside.txt");
    fs::write(&outside, b"not in the root").unwrap();
    symlink(&outside, job.s3("bkt/in/b.txt")).unwrap();
    in_both_shells(&job, |sh, outcome| {
        assert_eq!(outcome.code, EXIT_INPUT_FAILED, "{sh}: {}", outcome.log);
        assert!(
            outcome.log.contains("/bkt/in/b.txt is a symbolic link"),
            "{sh}: {}",
            outcome.log
        );
        assert!(!outcome.log.contains("the script ran"));
    });

    let job = Job::new(
        "--input A\ns3://bkt/via/a.txt\n",
        "cat \"$A\"\n",
        JobArgs::default(),
    );
    fs::create_dir_all(job.s3("bkt")).unwrap();
    let elsewhere = job.dir.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::write(elsewhere.join("a.txt"), b"outside").unwrap();
    symlink(&elsewhere, job.s3("bkt/via")).unwrap();
    in_both_shells(&job, |sh, outcome| {
        assert_eq!(outcome.code, EXIT_INPUT_FAILED, "{sh}: {}", outcome.log);
        assert!(
            outcome.log.contains("/bkt/via is a symbolic link"),
            "{sh}: {}",
            outcome.log
        );
    });
}

/// Finding 2 and 3: an upload replaces the old file by rename (a new inode), never by writing into it, and leaves
/// no temporary file behind.
#[test]
fn an_upload_lands_by_rename_and_leaves_nothing_else() {
    let job = Job::new(
        "--output O\t--output-recursive D\t--output G\ns3://bkt/o/out.txt\ts3://bkt/o/dir\ts3://bkt/o/g/*.txt\n",
        "mkdir -p \"${O%/*}\" \"$D/sub\" \"${G%/*}\" && echo new > \"$O\" && echo new > \"$D/sub/f\" \
         && echo new > \"${G%/*}/x.txt\"\n",
        JobArgs::default(),
    );
    for key in ["bkt/o/out.txt", "bkt/o/dir/sub/f", "bkt/o/g/x.txt"] {
        job.put(key, b"old\n");
    }
    let inodes: Vec<u64> = ["bkt/o/out.txt", "bkt/o/dir/sub/f", "bkt/o/g/x.txt"]
        .iter()
        .map(|k| fs::metadata(job.s3(k)).unwrap().ino())
        .collect();
    // An open reader of the old file keeps the old bytes: the new file is another inode.
    let outcome = job.run(0);
    assert_eq!(outcome.code, 0, "{}", outcome.log);
    for (key, old) in ["bkt/o/out.txt", "bkt/o/dir/sub/f", "bkt/o/g/x.txt"]
        .iter()
        .zip(inodes)
    {
        assert_eq!(fs::read(job.s3(key)).unwrap(), b"new\n", "{key}");
        assert_ne!(
            fs::metadata(job.s3(key)).unwrap().ino(),
            old,
            "{key} was written in place"
        );
    }
    let mut names = Vec::new();
    let mut stack = vec![job.s3("bkt")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            }
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    assert!(
        names.iter().all(|n| !n.starts_with(".ecsub-part")),
        "{names:?}"
    );
}

/// Finding 18: an output file whose key is a folder in the root fails the upload, instead of landing inside it.
#[test]
fn an_output_file_whose_key_is_a_folder_fails_the_upload() {
    let job = Job::new(
        "--output O\ns3://bkt/part/o2.txt\n",
        "mkdir -p \"${O%/*}\" && echo x > \"$O\"\n",
        JobArgs::default(),
    );
    fs::create_dir_all(job.s3("bkt/part/o2.txt")).unwrap();
    in_both_shells(&job, |sh, outcome| {
        assert_eq!(outcome.code, EXIT_OUTPUT_FAILED, "{sh}: {}", outcome.log);
        assert!(
            outcome
                .log
                .contains("/bkt/part/o2.txt is a folder, not a file"),
            "{sh}: {}",
            outcome.log
        );
    });
    assert!(!job.s3("bkt/part/o2.txt/o2.txt").exists());
}

/// Probe 2026-12, finding 25: S3 holds `pre/a` and `pre/a/b` side by side, the local S3 root cannot; the upload
/// that meets the other's object says which object is in the way.
#[test]
fn an_object_where_an_output_needs_a_folder_is_named() {
    for (tsv, script) in [
        (
            "--output O\ns3://bkt/pre/a/b\n",
            "mkdir -p \"${O%/*}\" && echo b > \"$O\"\n",
        ),
        (
            "--output-recursive D\ns3://bkt/pre/a\n",
            "mkdir -p \"$D\" && echo b > \"$D/b\"\n",
        ),
        (
            "--output G\ns3://bkt/pre/a/*.txt\n",
            "mkdir -p \"${G%/*}\" && echo b > \"${G%/*}/b.txt\"\n",
        ),
    ] {
        let job = Job::new(tsv, script, JobArgs::default());
        job.put("bkt/pre/a", b"a");
        let blocker = job.s3("bkt/pre/a");
        in_both_shells(&job, |sh, outcome| {
            assert_eq!(
                outcome.code, EXIT_OUTPUT_FAILED,
                "{sh} {tsv}: {}",
                outcome.log
            );
            assert!(
                outcome.log.contains(&format!(
                    ": an object exists at {} where a folder is needed (S3 holds a key and keys under it side by \
                     side, the local S3 root cannot)",
                    blocker.display()
                )),
                "{sh} {tsv}: {}",
                outcome.log
            );
        });
        assert_eq!(fs::read(&blocker).unwrap(), b"a", "{tsv}");
    }
}

/// Finding 12: `*` matches a leading dot, as the pre-flight and `aws s3 cp --include` do.
#[test]
fn a_wildcard_matches_dotfiles_as_s3_does() {
    let job = Job::new(
        "--input G\t--output H\ns3://bkt/dots/*.txt\ts3://bkt/up/*.txt\n",
        "ls -A \"${G%/*}\" >&2; mkdir -p \"${H%/*}\" && echo up > \"${H%/*}/.seen.txt\"\n",
        JobArgs::default(),
    );
    job.put("bkt/dots/.hidden.txt", b"h");
    in_both_shells(&job, |sh, outcome| {
        assert_eq!(outcome.code, 0, "{sh}: {}", outcome.log);
        assert!(outcome.log.contains(".hidden.txt"), "{sh}: {}", outcome.log);
    });
    assert_eq!(fs::read(job.s3("bkt/up/.seen.txt")).unwrap(), b"up\n");
}

/// Test audit I1 and I2: one rule on both transports: an input folder must hold a file, and an empty output
/// folder is not uploaded (the outputs check then finds it missing).
#[test]
fn an_empty_input_folder_fails_and_an_empty_output_folder_is_not_uploaded() {
    let job = Job::new(
        "--input-recursive I\ns3://bkt/empty\n",
        "echo the script ran\n",
        JobArgs::default(),
    );
    fs::create_dir_all(job.s3("bkt/empty/sub")).unwrap();
    in_both_shells(&job, |sh, outcome| {
        assert_eq!(outcome.code, EXIT_INPUT_FAILED, "{sh}: {}", outcome.log);
        assert!(
            outcome
                .log
                .contains("input I: s3://bkt/empty/ holds no file"),
            "{sh}: {}",
            outcome.log
        );
    });

    let job = Job::new(
        "--output-recursive O\ns3://bkt/out\n",
        "mkdir -p \"$O/sub\"\n",
        JobArgs::default(),
    );
    in_both_shells(&job, |sh, outcome| {
        assert_eq!(outcome.code, 0, "{sh}: {}", outcome.log);
        assert!(
            outcome.log.contains("holds no file; nothing to upload"),
            "{sh}: {}",
            outcome.log
        );
    });
    assert!(!job.s3("bkt/out").exists());
}

/// A recursive copy takes dotfiles and nested folders, and stays inside its folder.
#[test]
fn a_recursive_copy_takes_every_file_and_stays_in_its_folder() {
    let job = Job::new(
        "--input-recursive I\t--output-recursive O\ns3://bkt/in\ts3://bkt/out\n",
        "cd \"$I\" && find . -type f | sort > /dev/stderr && mkdir -p \"$O\" && cp -R . \"$O\"\n",
        JobArgs::default(),
    );
    job.put("bkt/in/.dot", b"1");
    job.put("bkt/in/a/b/c.txt", b"2");
    job.put("bkt/in/..odd", b"3");
    job.put("bkt/inside-not.txt", b"sibling: not copied");
    in_both_shells(&job, |sh, outcome| {
        assert_eq!(outcome.code, 0, "{sh}: {}", outcome.log);
        assert!(
            outcome.log.contains("./..odd\n./.dot\n./a/b/c.txt\n"),
            "{sh}: {}",
            outcome.log
        );
    });
    assert_eq!(fs::read(job.s3("bkt/out/a/b/c.txt")).unwrap(), b"2");
    assert_eq!(fs::read(job.s3("bkt/out/..odd")).unwrap(), b"3");
    assert!(!job.s3("bkt/out/inside-not.txt").exists());
}
