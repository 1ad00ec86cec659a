#!/usr/bin/env bash
# Builds the five Lambda bootstraps (submit, launch, task-stopped, finalize, janitor) for arm64 in release with
# cargo-lambda, zips each as Lambda expects it (one file, `bootstrap`, at the zip's root) and prints each zip's
# size. The tools come pinned from infra/deploy-requirements.txt (infra/deploy-tools.sh); zig, cargo-lambda's
# cross-linker, is the venv's `python -m ziglang`.
#
# Usage: infra/build-lambdas.sh [OUT_DIR]        (OUT_DIR default: target/lambda-zips in the repository)
# Environment:
#   ECSUB_LAMBDA_TARGET_DIR  cargo's target dir for these builds (default ~/.cache/ecsub-lambda-arm64, outside the
#                            clone, apart from the debug/test dir that CARGO_TARGET_DIR usually names).
#                            `CARGO_TARGET_DIR=<this dir> sam build --beta-features` reuses it (SAM CLI 1.170).
#                            Only from the same clone: cargo-lambda's linker wrapper names the venv's path, and
#                            cargo rebuilds everything when the linker changes.
#   CARGO_BUILD_JOBS         as usual.
# Cost on 2 cores: cold 22-36 min, a change in the workspace ~8 min (each binary's link is ~2 min of whole-program
# codegen: cargo-lambda adds codegen-units=1 and panic=abort), nothing changed 7 s; see docs/deploy.md.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$repo/target/lambda-zips}"
target_dir="${ECSUB_LAMBDA_TARGET_DIR:-$HOME/.cache/ecsub-lambda-arm64}"
functions=(submit launcher launch task-stopped finalize janitor)
triple=aarch64-unknown-linux-gnu

say() { echo "infra/build-lambdas.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }
trap 'say "FAILED (exit $?) at line $LINENO"' ERR

"$repo/infra/deploy-tools.sh"
export PATH="$repo/.venv-deploy/bin:$PATH"
command -v cargo >/dev/null || die "cargo is not on PATH"
command -v cargo-lambda >/dev/null || die "cargo-lambda is not in .venv-deploy (infra/deploy-tools.sh)"
python -m ziglang version >/dev/null || die "zig (python -m ziglang) does not run"
# cargo-lambda would run this itself; doing it first makes a failed download say what failed.
if command -v rustup >/dev/null; then
  rustup target add "$triple" >/dev/null 2>&1 || die "rustup target add $triple failed (it downloads from static.rust-lang.org)"
fi

say "cargo-lambda $(cargo-lambda lambda --version | cut -d' ' -f2), zig $(python -m ziglang version), $(rustc --version)"
say "building ${functions[*]} for $triple (release) in $target_dir"
# `--bin NAME` from the workspace root, not `--package`: that is how `sam build` asks (one `--bin` per function),
# and it resolves features over the whole workspace (ecsub-cli's and the tests' dependencies turn on one more
# rustix feature), so the compiled crates are the same ones and one target dir serves both.
bins=()
for f in "${functions[@]}"; do bins+=(--bin "$f"); done
start=$(date +%s.%N)
# --target-dir is not used: cargo-lambda 1.9.2 passes it on to `cargo metadata`, which rejects it.
(cd "$repo" && CARGO_TARGET_DIR="$target_dir" cargo lambda build --release --arm64 --locked "${bins[@]}")
end=$(date +%s.%N)
say "build took $(python -c "print(f'{$end - $start:.1f}')") s"

mkdir -p "$out"
python - "$target_dir/lambda" "$out" "${functions[@]}" <<'PY'
import os, sys, zipfile
lambda_dir, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"{'function':<14} {'zip bytes':>10} {'zip MiB':>8} {'bootstrap MiB':>14}  zip")
for name in names:
    bootstrap = os.path.join(lambda_dir, name, "bootstrap")
    with open(bootstrap, "rb") as f:
        head = f.read(20)
    # ELF, 64-bit, little endian, e_machine 0xB7 = AArch64: the arm64 functions of template.yaml.
    if head[:4] != b"\x7fELF" or head[4] != 2 or head[18:20] != b"\xb7\x00":
        sys.exit(f"{bootstrap} is not an arm64 ELF executable")
    path = os.path.join(out, f"{name}.zip")
    tmp = path + ".tmp"
    # A fixed timestamp and mode: the same bootstrap gives the same zip bytes.
    info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = (0o100755 << 16)
    info.create_system = 3  # Unix, so the mode bits are honoured
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(bootstrap, "rb") as f, zipfile.ZipFile(tmp, "w") as z:
        z.writestr(info, f.read(), compresslevel=9)
    os.replace(tmp, path)
    size, raw = os.path.getsize(path), os.path.getsize(bootstrap)
    print(f"{name:<14} {size:>10} {size / 2**20:>8.2f} {raw / 2**20:>14.2f}  {path}")
PY
say "zips in $out"
