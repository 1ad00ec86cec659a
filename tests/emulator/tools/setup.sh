#!/usr/bin/env bash
# Makes (or refreshes) the git-ignored venv .venv with the emulated cloud's pinned Python packages:
# moto[server] 5.2.5, the aws CLI, cfn-lint. Re-installs only when requirements.txt changed.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
venv="$repo/.venv"
requirements="$repo/tests/emulator/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "tests/emulator/tools/setup.sh: installing the emulated cloud's Python packages into .venv" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
"$venv/bin/python" -c 'import moto, sys; sys.exit(0 if moto.__version__ == "5.2.5" else "moto is not 5.2.5")'
echo "$want" > "$stamp"
