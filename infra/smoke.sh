#!/usr/bin/env bash
# Smoke test on a real AWS account (costs a little money; never run in CI): deploys a uniquely named stack, runs
# the wordcount example through it with `ecsub-cli push --wait`, checks its two outputs and that none of the
# job's instances is left pending or running, then tears everything it created down — in an EXIT trap, so the
# teardown runs after a failure or Ctrl-C too.
#
# Needs: AWS credentials for the account (the standard chain: AWS_PROFILE, env vars, SSO, ...), and aws (CLI v1
# or v2), sam, cargo-lambda (infra/deploy-tools.sh installs pinned sam and cargo-lambda into .venv-deploy; this
# script puts that venv first on PATH when it exists), cargo, python3.
#
# Environment (all optional except a region):
#   AWS_REGION / AWS_DEFAULT_REGION  the region to deploy to (required)
#   ECSUB_SMOKE_STACK           stack name (default ecsub-smoke-<UTC time>-<random>); must not exist yet
#   ECSUB_SMOKE_DATA_BUCKET     an existing bucket for the inputs/outputs (and SAM's upload); the script writes
#                               only under the prefix <stack>/ and removes that prefix at the end. Default: the
#                               script creates ecsub-smoke-<account>-<random> and deletes it at the end.
#   ECSUB_SMOKE_KEEP=1          skip the teardown (to look around); prints what to delete by hand
#   ECSUB_SMOKE_WAIT_MINUTES    give up waiting for the job after this long (default 30)
#   ECSUB_CLI                   an ecsub-cli binary to use (default: built here with cargo, with the AWS commands,
#                               in $CARGO_TARGET_DIR, default ~/.cache/ecsub-target)
#   ECSUB_LAMBDA_TARGET_DIR     cargo's target dir for sam build (default ~/.cache/ecsub-lambda-arm64, shared
#                               with infra/build-lambdas.sh of the same clone; another clone's venv makes cargo
#                               rebuild everything there, see infra/build-lambdas.sh)
#   Stack parameters (template.yaml; an empty or unset one keeps the template's default):
#   DataBuckets is always the data bucket of this run.
#   ECSUB_SMOKE_SUBNET_IDS            -> SubnetIds (subnets whose instances get a public IP or a NAT: they pull the
#                                        image from ECR Public and the stager from the stack's bucket, and talk to ECS and S3)
#   ECSUB_SMOKE_SECURITY_GROUP_ID     -> SecurityGroupId
#   ECSUB_SMOKE_TASK_TIMEOUT_SECONDS  -> TaskTimeoutSeconds
#   ECSUB_SMOKE_EXTRA_PARAMETERS      more `Key=Value` overrides, space-separated, for parameters added later
#
# Exit status: 0 the job succeeded, every check passed and the teardown completed; 1 otherwise.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

say() { printf '\n== %s\n' "$*" >&2; }
note() { printf 'infra/smoke.sh: %s\n' "$*" >&2; }
die() { note "FAILED: $*"; exit 1; }

# --- prerequisites ---------------------------------------------------------------------------------------------
if [ -x "$repo/.venv-deploy/bin/sam" ]; then
  export PATH="$repo/.venv-deploy/bin:$PATH"
fi
export SAM_CLI_TELEMETRY="${SAM_CLI_TELEMETRY:-0}"
for tool in aws sam cargo-lambda cargo python3; do
  command -v "$tool" >/dev/null || die "$tool is not on PATH (sam and cargo-lambda: infra/deploy-tools.sh)"
done
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
[ -n "$region" ] || die "set AWS_REGION (or AWS_DEFAULT_REGION) to the region to deploy to"
export AWS_REGION="$region" AWS_DEFAULT_REGION="$region"
[ -z "${AWS_ENDPOINT_URL:-}" ] || die "AWS_ENDPOINT_URL is set ($AWS_ENDPOINT_URL): this test is for a real account"
note "aws: $(aws --version 2>&1)"
note "sam: $(sam --version)"
note "cargo-lambda: $(cargo-lambda lambda --version)"
account="$(aws sts get-caller-identity --query Account --output text)" \
  || die "no working AWS credentials (aws sts get-caller-identity failed)"
note "account $account, region $region"

suffix="$(date -u +%Y%m%d-%H%M%S)-$(printf '%04x' $((RANDOM)))"
stack="${ECSUB_SMOKE_STACK:-ecsub-smoke-$suffix}"
if aws cloudformation describe-stacks --stack-name "$stack" >/dev/null 2>&1; then
  die "stack $stack exists already; pick another ECSUB_SMOKE_STACK"
fi
wait_minutes="${ECSUB_SMOKE_WAIT_MINUTES:-30}"
workdir="$(mktemp -d "${TMPDIR:-/tmp}/ecsub-smoke.XXXXXX")"

# --- teardown: everything below records what it created; the trap removes exactly that ------------------------
created_data_bucket=""
data_bucket=""
data_prefix="$stack"
stack_deployed=""
stack_bucket=""
job_id=""
function_names=()

teardown() {
  local status=$? failed=0
  trap - EXIT INT TERM
  set +e
  if [ "${ECSUB_SMOKE_KEEP:-}" = 1 ]; then
    say "teardown skipped (ECSUB_SMOKE_KEEP=1); delete by hand: stack $stack${stack_bucket:+ (empty s3://$stack_bucket first)}${data_bucket:+, s3://$data_bucket/$data_prefix/}${created_data_bucket:+ and bucket $created_data_bucket}${job_id:+, log group ecsub-$job_id}"
    rm -rf "$workdir"
    exit "$status"
  fi
  say "teardown (the run's exit status so far: $status)"
  if [ -n "$job_id" ]; then
    # Nothing of the job may keep billing, whatever happened to it.
    local left
    left="$(aws ec2 describe-instances \
      --filters "Name=tag:ecsub:job,Values=$job_id" "Name=instance-state-name,Values=pending,running,stopping,stopped" \
      --query 'Reservations[].Instances[].InstanceId' --output text)"
    if [ -n "$left" ] && [ "$left" != None ]; then
      note "terminating instances left by job $job_id: $left"
      # shellcheck disable=SC2086  # a whitespace-separated list of instance ids
      aws ec2 terminate-instances --instance-ids $left >/dev/null || failed=1
    fi
    local cluster="${stack}_$job_id" # the stack names each job's cluster (and task definition family) so
    if [ "$(aws ecs describe-clusters --clusters "$cluster" --query 'clusters[0].status' --output text 2>/dev/null)" = ACTIVE ]; then
      note "deleting the job's ECS cluster $cluster"
      for ci in $(aws ecs list-container-instances --cluster "$cluster" --query 'containerInstanceArns[]' --output text); do
        aws ecs deregister-container-instance --cluster "$cluster" --container-instance "$ci" --force >/dev/null
      done
      aws ecs delete-cluster --cluster "$cluster" >/dev/null || failed=1
    fi
    for td in $(aws ecs list-task-definitions --family-prefix "$cluster" --status ACTIVE --query 'taskDefinitionArns[]' --output text); do
      aws ecs deregister-task-definition --task-definition "$td" >/dev/null || failed=1
    done
    aws logs delete-log-group --log-group-name "ecsub-$job_id" 2>/dev/null
  fi
  if [ -n "$stack_deployed" ]; then
    if [ -n "$stack_bucket" ]; then
      note "emptying the stack's bucket s3://$stack_bucket (CloudFormation deletes only an empty bucket)"
      aws s3 rm "s3://$stack_bucket" --recursive --only-show-errors || failed=1
    fi
    note "deleting stack $stack"
    if aws cloudformation delete-stack --stack-name "$stack" \
      && aws cloudformation wait stack-delete-complete --stack-name "$stack"; then
      note "stack $stack deleted"
    else
      failed=1
      note "stack $stack was not deleted: see its events in the CloudFormation console"
    fi
    # The stack's log groups go with it; in case Lambda made one again after that, they are removed too.
    for fn in "${function_names[@]}"; do
      aws logs delete-log-group --log-group-name "/aws/lambda/$fn" 2>/dev/null
    done
  fi
  if [ -n "$created_data_bucket" ]; then
    note "deleting the data bucket s3://$created_data_bucket"
    aws s3 rb "s3://$created_data_bucket" --force >/dev/null || failed=1
  elif [ -n "$data_bucket" ]; then
    note "removing s3://$data_bucket/$data_prefix/"
    aws s3 rm "s3://$data_bucket/$data_prefix/" --recursive --only-show-errors || failed=1
  fi
  rm -rf "$workdir"
  if [ "$failed" != 0 ]; then
    note "TEARDOWN INCOMPLETE: check the account for stack $stack and what is named after it"
    [ "$status" != 0 ] || status=1
  fi
  if [ "$status" = 0 ]; then say "smoke test passed; everything it created is gone"; else note "smoke test FAILED"; fi
  exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM
trap 'note "a command failed (exit $?) at line $LINENO"' ERR

# --- the CLI ---------------------------------------------------------------------------------------------------
if [ -n "${ECSUB_CLI:-}" ]; then
  ecsub="$ECSUB_CLI"
else
  say "building ecsub-cli (with the AWS commands)"
  cli_target="${CARGO_TARGET_DIR:-$HOME/.cache/ecsub-target}"
  CARGO_TARGET_DIR="$cli_target" cargo build --locked -p ecsub-cli
  ecsub="$cli_target/debug/ecsub-cli"
fi
"$ecsub" --version >/dev/null

# --- data bucket -----------------------------------------------------------------------------------------------
if [ -n "${ECSUB_SMOKE_DATA_BUCKET:-}" ]; then
  data_bucket="${ECSUB_SMOKE_DATA_BUCKET#s3://}"
  data_bucket="${data_bucket%%/*}"
  aws s3api head-bucket --bucket "$data_bucket" || die "data bucket $data_bucket is not reachable"
else
  data_bucket="ecsub-smoke-$account-$(printf '%04x%04x' $((RANDOM)) $((RANDOM)))"
  say "creating the data bucket s3://$data_bucket"
  if [ "$region" = us-east-1 ]; then
    aws s3api create-bucket --bucket "$data_bucket" >/dev/null
  else
    aws s3api create-bucket --bucket "$data_bucket" \
      --create-bucket-configuration "LocationConstraint=$region" >/dev/null
  fi
  created_data_bucket="$data_bucket"
fi
note "inputs and outputs under s3://$data_bucket/$data_prefix/"

# --- build and deploy ------------------------------------------------------------------------------------------
# SAM's rust-cargolambda build (aws-lambda-builders 1.67, pinned through aws-sam-cli) honours CARGO_TARGET_DIR:
# the same dir as infra/build-lambdas.sh, so either one warms the other.
lambda_target="${ECSUB_LAMBDA_TARGET_DIR:-$HOME/.cache/ecsub-lambda-arm64}"
say "sam build --beta-features in $lambda_target (rust-cargolambda; a cold build takes tens of minutes)"
CARGO_TARGET_DIR="$lambda_target" sam build --beta-features

overrides=("DataBuckets=$data_bucket")
add_override() { if [ -n "$2" ]; then overrides+=("$1=$2"); fi; }
add_override SubnetIds "${ECSUB_SMOKE_SUBNET_IDS:-}"
add_override SecurityGroupId "${ECSUB_SMOKE_SECURITY_GROUP_ID:-}"
add_override TaskTimeoutSeconds "${ECSUB_SMOKE_TASK_TIMEOUT_SECONDS:-}"
if [ -n "${ECSUB_SMOKE_EXTRA_PARAMETERS:-}" ]; then
  read -r -a extra <<<"$ECSUB_SMOKE_EXTRA_PARAMETERS"
  overrides+=("${extra[@]}")
fi
say "sam deploy: stack $stack${overrides[*]:+ with ${overrides[*]}}"
stack_deployed=1 # from here on the teardown deletes the stack, even one that failed to create
sam deploy \
  --stack-name "$stack" \
  --region "$region" \
  --s3-bucket "$data_bucket" --s3-prefix "$data_prefix/sam" \
  --capabilities CAPABILITY_IAM \
  --no-confirm-changeset --no-fail-on-empty-changeset \
  --tags "ecsub:smoke=$stack" \
  ${overrides[@]:+--parameter-overrides "${overrides[@]}"}

output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
stack_bucket="$(output BucketName)"
if [ -z "$stack_bucket" ] || [ "$stack_bucket" = None ]; then die "the stack has no BucketName output"; fi
mapfile -t function_names < <(aws cloudformation describe-stack-resources --stack-name "$stack" \
  --query "StackResources[?ResourceType=='AWS::Lambda::Function'].PhysicalResourceId" --output text | tr '\t' '\n')
note "stack bucket s3://$stack_bucket; functions: ${function_names[*]}"

# --- the stager (every task's copies go through it; a stack without one refuses jobs) --------------------------
say "building the stager for both architectures (infra/build-stager.sh) and publishing it"
"$repo/infra/build-stager.sh" "$workdir/stager"
"$ecsub" publish-stager --aws-s3-bucket "s3://$stack_bucket" "$workdir"/stager/*/ecsub-stage

# --- the wordcount example -------------------------------------------------------------------------------------
say "uploading the wordcount inputs to s3://$data_bucket/$data_prefix/"
local_root="examples/wordcount/s3/ecsub-wordcount"
for folder in input script; do
  aws s3 cp "$local_root/$folder/" "s3://$data_bucket/$data_prefix/$folder/" --recursive --only-show-errors
done
# The tasks file names the bucket ecsub-wordcount; this run's copy names the data bucket and prefix instead.
tasks="$workdir/wordcount.tsv"
sed "s#s3://ecsub-wordcount/#s3://$data_bucket/$data_prefix/#g" examples/wordcount/wordcount.tsv >"$tasks"
! grep -q 's3://ecsub-wordcount/' "$tasks" || die "the tasks file still names s3://ecsub-wordcount/"
"$ecsub" validate --tasks "$tasks"

say "ecsub-cli push --wait (gives up after $wait_minutes minutes)"
push_out="$workdir/push.out"
push_status=0
# With pipefail the pipeline's status is push's (tee succeeds); 124 is timeout's.
timeout --foreground "$((wait_minutes * 60))" \
  "$ecsub" push --wait --aws-s3-bucket "s3://$stack_bucket" --tasks "$tasks" --script examples/wordcount/wordcount.sh \
  | tee "$push_out" || push_status=$?
job_id="$(head -n 1 "$push_out" | tr -d '[:space:]')"
[ -n "$job_id" ] || die "ecsub-cli push printed no job id (exit $push_status)"
note "job $job_id: push --wait exited $push_status"
if [ "$push_status" != 0 ]; then
  "$ecsub" status --aws-s3-bucket "s3://$stack_bucket" "$job_id" || true
  "$ecsub" logs --aws-s3-bucket "s3://$stack_bucket" "$job_id" || true
  die "the job did not succeed (push --wait exit $push_status; 124 = gave up waiting)"
fi

# --- checks ----------------------------------------------------------------------------------------------------
say "checking the outputs"
for play in hamlet kinglear; do
  key="$data_prefix/output/$play.count.tsv"
  size="$(aws s3api head-object --bucket "$data_bucket" --key "$key" --query ContentLength --output text)" \
    || die "output s3://$data_bucket/$key is missing"
  [ "$size" -gt 0 ] || die "output s3://$data_bucket/$key is empty"
  note "s3://$data_bucket/$key: $size bytes"
done

say "checking that no instance tagged ecsub:job=$job_id is pending or running"
# finalize terminates stragglers before the job's summary is written; allow a minute for EC2's view to settle.
for attempt in $(seq 1 12); do
  live="$(aws ec2 describe-instances \
    --filters "Name=tag:ecsub:job,Values=$job_id" "Name=instance-state-name,Values=pending,running" \
    --query 'Reservations[].Instances[].InstanceId' --output text)"
  if [ -z "$live" ] || [ "$live" = None ]; then
    note "none (check $attempt)"
    break
  fi
  [ "$attempt" -lt 12 ] || die "instances of job $job_id still pending/running a minute after it ended: $live"
  sleep 5
done
