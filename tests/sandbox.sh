#!/usr/bin/env bash
# Starts the emulated cloud as a sandbox a person can point ecsub-cli (and the aws CLI) at, in the foreground,
# with the wordcount example's inputs in s3://ecsub-wordcount. Ctrl-C stops it and everything it started.
# Usage: tests/sandbox.sh [PORT]   (default 4566)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ecsub-target}"
port="${1:-4566}"
dir=".ecsub/sandbox"

tests/emulator/setup.sh
cargo build --workspace --bins
rm -rf "$dir"
.venv/bin/python tests/emulator/sandbox.py --dir "$dir" --port "$port" 2>"$dir.log" &
sandbox=$!
trap 'kill -TERM $sandbox 2>/dev/null; wait $sandbox 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 600); do
  [ -f "$dir/sandbox.json" ] && break
  kill -0 $sandbox 2>/dev/null || { echo "the sandbox did not start; see $dir.log" >&2; exit 1; }
  sleep 0.1
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox AWS_REGION=us-east-1
.venv/bin/aws s3 mb s3://ecsub-wordcount >/dev/null
.venv/bin/aws s3 cp --recursive --quiet --exclude 'output/*' examples/wordcount/s3/ecsub-wordcount/ s3://ecsub-wordcount/
cat <<INFO
The sandbox is up (moto on port $port, the stack from template.yaml, the real handlers; logs in $dir).
In another shell:

  export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox AWS_REGION=us-east-1
  export ECSUB_BUCKET=s3://ecsub-jobs PATH="\$PWD/.venv/bin:\$PATH"
  cargo run -p ecsub-cli -- push --wait --waiter-delay 1 --tasks examples/wordcount/wordcount.tsv --script examples/wordcount/wordcount.sh
  aws s3 ls s3://ecsub-wordcount/output/

Ctrl-C here stops it.
INFO
wait $sandbox
