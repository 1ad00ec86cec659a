//! The names a tasks file gives its columns: shell variables for the environment, tags for labels.

/// Variable names a column may not take: the shells give them a meaning (POSIX sh and bash): setting one would change how run.sh or the user's
/// script runs (dash aborts on `export OPTIND=x`: local review 2026-11, finding 9).
const RESERVED_NAMES: &[&str] = &[
    "PATH",
    "IFS",
    "PWD",
    "OLDPWD",
    "ENV",
    "HOME",
    "OPTIND",
    "OPTARG",
    "PPID",
    "LINENO",
    "PS1",
    "PS2",
    "PS4",
    "CDPATH",
    "SHELLOPTS",
    "BASHOPTS",
    "GLOBIGNORE",
    "HISTFILE",
    "FUNCNAME",
    "EUID",
    "UID",
    "GROUPS",
];
/// Prefixes of reserved names, in any case: `ECSUB_` for ecsub's variables (run.sh's own are `ecsub_*`, so no
/// column can overwrite them: finding 8), `BASH_` for bash's.
const RESERVED_PREFIXES: &[&str] = &["ECSUB_", "BASH_"];

/// A column NAME becomes a shell variable, so it must be one: `[A-Za-z_][A-Za-z0-9_]*`.
pub(super) fn check_variable_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "`{name}` is not a shell variable name (letters, digits and `_`, not starting with a digit)"
        ));
    }
    let upper = name.to_ascii_uppercase();
    if RESERVED_PREFIXES.iter().any(|p| upper.starts_with(p)) || RESERVED_NAMES.contains(&name) {
        return Err(format!(
            "`{name}` is reserved by ecsub's scripts; choose another name"
        ));
    }
    Ok(())
}

/// Labels become EC2/ECS tags: keys of up to 128 characters of letters, digits, `_`, `-` and `.`.
pub(super) fn check_label_name(name: &str) -> Result<(), String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.len() > 128 || !name.chars().all(ok) || name.to_ascii_lowercase().starts_with("aws:") {
        return Err(format!(
            "`{name}` is not a valid label name (up to 128 letters, digits, `_`, `-` and `.`)"
        ));
    }
    Ok(())
}
