#!/usr/bin/env bash
# Makes (or refreshes) the git-ignored venv DIR with the pinned Python packages of REQUIREMENTS, and re-installs
# only when that file changed (its SHA-256 is stamped in DIR). Then checks that each NAME==VERSION it pins is the
# version installed, and runs CHECK (if given) with the venv's bin first on PATH; the stamp is written only when all
# of that passed. Used by tests/emulator/tools/setup.sh (.venv) and infra/deploy-tools.sh (.venv-deploy).
# Usage: infra/venv.sh DIR REQUIREMENTS [CHECK [ARG...]]
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: infra/venv.sh DIR REQUIREMENTS [CHECK [ARG...]]" >&2
  exit 2
fi
venv="$1"
requirements="$2"
shift 2
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "infra/venv.sh: installing the packages $requirements pins into $venv" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
# What the requirements file pins is what got installed (a pin edited without a re-install would show here).
"$venv/bin/python" - "$requirements" <<'PY'
import importlib.metadata as md, re, sys
bad = []
for line in open(sys.argv[1]):
    m = re.match(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line)
    if m and md.version(m[1]) != m[3]:
        bad.append(f"{m[1]} is {md.version(m[1])}, not {m[3]}")
sys.exit(f"infra/venv.sh: {sys.argv[1]}: " + "; ".join(bad) if bad else 0)
PY
if [ $# -gt 0 ]; then
  PATH="$venv/bin:$PATH" "$@"
fi
echo "$want" > "$stamp"
