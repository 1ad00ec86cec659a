#!/usr/bin/env bash
# Benchmark: `ecsub-cli run --local` against GNU parallel on the same job, side by side in one run (issue #8).
#
# The job: N trivial tasks, each `mkdir -p "${OUT%/*}" && echo "$X" > "$OUT"` run by bash with X and OUT set
# from its row. ecsub also stages (uploads OUT into the local S3 root by rename), checks the output and writes
# its logs and report; GNU parallel only runs the command. For each --processes value the two are run in turn,
# RUNS times, and the best wall time of each is printed with their ratio. With PEAK_N set (e.g. 100000), the
# CLI's peak RSS is also measured on a job of that many tasks at --processes 8, next to the 1 000-task figure.
#
# Usage: cli/benches/local_vs_parallel.sh            (N=1000, PROCESSES="2 8", RUNS=3)
#        N=1000 PROCESSES="2 8" RUNS=3 PEAK_N=100000 cli/benches/local_vs_parallel.sh
# Needs: cargo, GNU parallel (`apt-get install parallel`), /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-1000}
PROCESSES=${PROCESSES:-2 8}
RUNS=${RUNS:-3}
PEAK_N=${PEAK_N:-}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ecsub-target}"

command -v parallel >/dev/null || { echo "GNU parallel is not installed (apt-get install parallel)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is not installed (apt-get install time)" >&2; exit 1; }
cargo build --quiet --release -p ecsub-cli --no-default-features
cli="$CARGO_TARGET_DIR/release/ecsub-cli"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'mkdir -p "${OUT%%/*}" && echo "$X" > "$OUT"\n' >"$work/task.sh"
job() { # job N: the tasks file for ecsub and the same rows for parallel (X, then the local output path)
  python3 - "$1" "$work" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
with open(f"{work}/tasks-{n}.tsv", "w") as t, open(f"{work}/rows-{n}.tsv", "w") as r:
    t.write("--env X\t--output OUT\n")
    for i in range(n):
        t.write(f"value {i}\ts3://bkt/out/{i}.txt\n")
        r.write(f"value {i}\t{work}/par/bkt/out/{i}.txt\n")
PY
}
seconds() { # seconds COMMAND...: wall time of the command, in seconds (stdout and stderr dropped)
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s%N)
  echo "$(((end - start) / 1000000))" | awk '{printf "%.2f", $1 / 1000}'
}
run_ecsub() { # run_ecsub N P
  rm -rf "$work/root" "$work/wdir"
  "$cli" run --local --tasks "$work/tasks-$1.tsv" --script "$work/task.sh" --s3-root "$work/root" \
    --wdir "$work/wdir" --processes "$2"
  [ "$(find "$work/root/bkt/out" -type f | wc -l)" -eq "$1" ]
}
run_parallel() { # run_parallel N P
  rm -rf "$work/par"
  parallel -j "$2" --colsep '\t' "X={1} OUT={2} bash $work/task.sh" :::: "$work/rows-$1.tsv"
  [ "$(find "$work/par/bkt/out" -type f | wc -l)" -eq "$1" ]
}
best() { sort -n | head -n 1; }

job "$N"
echo "run --local against GNU parallel $(parallel --version | head -n 1 | awk '{print $3}'), $N tasks, best of $RUNS, $(nproc) cores"
printf '%-12s %10s %10s %8s\n' processes ecsub parallel ratio
for p in $PROCESSES; do
  e=() g=()
  for _ in $(seq "$RUNS"); do
    e+=("$(seconds run_ecsub "$N" "$p")")
    g+=("$(seconds run_parallel "$N" "$p")")
  done
  be=$(printf '%s\n' "${e[@]}" | best)
  bg=$(printf '%s\n' "${g[@]}" | best)
  printf '%-12s %9ss %9ss %7s×\n' "$p" "$be" "$bg" "$(awk -v a="$be" -v b="$bg" 'BEGIN{printf "%.2f", a / b}')"
done

peak() { # peak N: the CLI's peak RSS in MiB for a job of N tasks at --processes 8
  job "$1"
  rm -rf "$work/root" "$work/wdir"
  /usr/bin/time -f '%M' -o "$work/rss" "$cli" run --local --tasks "$work/tasks-$1.tsv" --script "$work/task.sh" \
    --s3-root "$work/root" --wdir "$work/wdir" --processes 8 >/dev/null 2>&1
  awk '{printf "%.1f", $1 / 1024}' "$work/rss"
}
if [ -n "$PEAK_N" ]; then
  echo "peak RSS of ecsub-cli at --processes 8: $(peak "$N") MiB for $N tasks, $(peak "$PEAK_N") MiB for $PEAK_N tasks"
fi
