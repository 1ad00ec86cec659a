#!/usr/bin/env bash
# Makes (or refreshes) the git-ignored venv .venv with the emulated cloud's pinned Python packages
# (tests/emulator/requirements.txt: moto[server] 5.2.5, the aws CLI, cfn-lint). Re-installs only when that file
# changed (infra/venv.sh, which also checks that each pin, moto's among them, is the version installed).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
exec "$repo/infra/venv.sh" "$repo/.venv" "$repo/tests/emulator/requirements.txt"
