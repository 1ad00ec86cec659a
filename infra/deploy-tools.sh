#!/usr/bin/env bash
# Makes (or refreshes) the git-ignored venv .venv-deploy with the pinned deploy tools of
# infra/deploy-requirements.txt: cargo-lambda, ziglang (its cross-linker) and the SAM CLI.
# Re-installs only when that file changed (infra/venv.sh). Separate from the test venv .venv
# (tests/emulator/tools/setup.sh).
# Use the tools with:  export PATH="$PWD/.venv-deploy/bin:$PATH"
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# Installed is not enough: cargo-lambda and sam must run.
exec "$repo/infra/venv.sh" "$repo/.venv-deploy" "$repo/infra/deploy-requirements.txt" \
  sh -c 'cargo-lambda lambda --version >/dev/null && sam --version >/dev/null'
