#!/usr/bin/env bash
# Builds the stager, ecsub-stage, as a static (musl) binary for both instance architectures with the pinned
# cargo-lambda and zig (infra/deploy-tools.sh), in the small profile (opt-level z, fat LTO, one codegen unit,
# panic = abort, stripped), and prints each file's size and SHA-256. Then publish them to a deployed stack:
#
#   infra/build-stager.sh && ecsub-cli publish-stager --aws-s3-bucket s3://BUCKET target/stager/*/ecsub-stage
#
# Usage: infra/build-stager.sh [OUT_DIR]        (OUT_DIR default: target/stager in the repository)
# Environment: ECSUB_STAGER_TARGET_DIR, cargo's target dir for these builds (default ~/.cache/ecsub-stager).
# zig is the C compiler here (aws-lc-sys needs one); rustup adds the musl targets. Measured 2026-12-04 on the
# 2-core development machine (docs/measurements.md: the stager's size).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$repo/target/stager}"
target_dir="${ECSUB_STAGER_TARGET_DIR:-$HOME/.cache/ecsub-stager}"
triples=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)

say() { echo "infra/build-stager.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }
trap 'say "FAILED (exit $?) at line $LINENO"' ERR

"$repo/infra/deploy-tools.sh"
export PATH="$repo/.venv-deploy/bin:$PATH"
command -v cargo-lambda >/dev/null || die "cargo-lambda is not in .venv-deploy (infra/deploy-tools.sh)"
for triple in "${triples[@]}"; do
  if command -v rustup >/dev/null; then
    rustup target add "$triple" >/dev/null 2>&1 || die "rustup target add $triple failed (it downloads from static.rust-lang.org)"
  fi
  say "building ecsub-stage for $triple (profile small) in $target_dir"
  stamp="$(mktemp)"
  # cargo-lambda links with zig, which cross-compiles C (aws-lc-sys) and links musl statically; it moves the
  # binary to lambda/<bin>/bootstrap, which the next architecture's build overwrites: copied at once.
  (cd "$repo" && CARGO_TARGET_DIR="$target_dir" cargo lambda build --profile small --locked \
    --package ecsub-stage --bin ecsub-stage --target "$triple")
  arch=${triple%%-*}
  mkdir -p "$out/$arch"
  found=""
  for candidate in "$target_dir/$triple/small/ecsub-stage" "$target_dir/lambda/ecsub-stage/bootstrap"; do
    if [ -f "$candidate" ] && [ "$candidate" -nt "$stamp" ]; then found="$candidate"; break; fi
  done
  rm -f "$stamp"
  [ -n "$found" ] || die "no ecsub-stage built for $triple under $target_dir"
  cp "$found" "$out/$arch/ecsub-stage"
done
for f in "$out"/*/ecsub-stage; do
  printf '%-40s %10s bytes  sha256 %s\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
done
