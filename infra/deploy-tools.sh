#!/usr/bin/env bash
# Makes (or refreshes) the git-ignored venv .venv-deploy with the pinned deploy tools of
# infra/deploy-requirements.txt: cargo-lambda, ziglang (its cross-linker) and the SAM CLI.
# Re-installs only when that file changed. Separate from the test venv .venv (tests/emulator/tools/setup.sh).
# Use the tools with:  export PATH="$PWD/.venv-deploy/bin:$PATH"
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="$repo/.venv-deploy"
requirements="$repo/infra/deploy-requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "infra/deploy-tools.sh: installing the pinned deploy tools into .venv-deploy" >&2
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
# What the requirements file pins is what got installed (a pin edited without a re-install would show here).
PATH="$venv/bin:$PATH" "$venv/bin/python" - "$requirements" <<'PY'
import importlib.metadata as md, re, sys
bad = []
for line in open(sys.argv[1]):
    m = re.match(r"\s*([A-Za-z0-9_.-]+)==(\S+)", line)
    if m and md.version(m[1]) != m[2]:
        bad.append(f"{m[1]} is {md.version(m[1])}, not {m[2]}")
sys.exit("infra/deploy-tools.sh: " + "; ".join(bad) if bad else 0)
PY
"$venv/bin/cargo-lambda" lambda --version >/dev/null
"$venv/bin/sam" --version >/dev/null
echo "$want" > "$stamp"
