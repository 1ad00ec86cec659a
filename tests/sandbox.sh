#!/usr/bin/env bash
# Starts the emulated cloud as a sandbox a person can point ecsub-cli (and the aws CLI) at, in the foreground,
# with the wordcount example's inputs in s3://ecsub-wordcount. Ctrl-C stops it and everything it started.
# Usage: tests/sandbox.sh [PORT]   (default 4566). Runs as root (instances and containers are mount namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ecsub-target}"
port="${1:-4566}"
dir=".ecsub/sandbox"

tests/emulator/tools/setup.sh
cargo build --workspace --bins
rm -rf "$dir" && mkdir -p "$dir"
.venv/bin/python -m tests.emulator.sandbox --dir "$dir" --port "$port" 2>"$dir.log" &
sandbox=$!
trap 'kill -TERM $sandbox 2>/dev/null; wait $sandbox 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 600); do
  [ -f "$dir/sandbox.json" ] && break
  kill -0 $sandbox 2>/dev/null || { echo "the sandbox did not start; see $dir.log" >&2; exit 1; }
  sleep 0.1
done

# Every request needs credentials the emulated cloud issued (IAM is enforced): an administrator's for setting up,
# and the CLI user's (who has the stack's UserPolicy, as a person using ecsub would) for ecsub-cli.
eval "$(.venv/bin/python - "$dir/sandbox.json" <<'PY'
import json, sys
info = json.load(open(sys.argv[1]))
for who in ("harness", "cli"):
    c = info["principals"][who]
    print(f"{who}_key={c['access_key_id']} {who}_secret='{c['secret_access_key']}'")
print(f"bucket={info['bucket']}")
PY
)"
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=$harness_key AWS_SECRET_ACCESS_KEY=$harness_secret .venv/bin/aws s3 mb s3://ecsub-wordcount >/dev/null
AWS_ACCESS_KEY_ID=$harness_key AWS_SECRET_ACCESS_KEY=$harness_secret \
  .venv/bin/aws s3 cp --recursive --quiet --exclude 'output/*' examples/wordcount/s3/ecsub-wordcount/ s3://ecsub-wordcount/
# What a deploy does after `sam deploy`: the stager in the stack's bucket (stripped: every instance fetches it).
strip -s -o "$dir/ecsub-stage" "$CARGO_TARGET_DIR/debug/ecsub-stage" 2>/dev/null || cp "$CARGO_TARGET_DIR/debug/ecsub-stage" "$dir/ecsub-stage"
AWS_ACCESS_KEY_ID=$harness_key AWS_SECRET_ACCESS_KEY=$harness_secret \
  "$CARGO_TARGET_DIR/debug/ecsub-cli" publish-stager --aws-s3-bucket "s3://$bucket" "$dir/ecsub-stage" >/dev/null
cat <<INFO
The sandbox is up (moto on port $port with IAM enforced, the stack deployed from template.yaml, the real
handlers, instances and containers; logs in $dir). In another shell, as the stack's user:

  export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_REGION=us-east-1 ECSUB_BUCKET=s3://$bucket
  export AWS_ACCESS_KEY_ID=$cli_key AWS_SECRET_ACCESS_KEY='$cli_secret'
  cargo run -p ecsub-cli -- push --wait --waiter-delay 1 --tasks examples/wordcount/wordcount.tsv --script examples/wordcount/wordcount.sh

and as an administrator, to look at the data:

  AWS_ACCESS_KEY_ID=$harness_key AWS_SECRET_ACCESS_KEY='$harness_secret' .venv/bin/aws s3 ls s3://ecsub-wordcount/output/

Ctrl-C here stops it.
INFO
wait $sandbox
