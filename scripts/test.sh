#!/usr/bin/env bash
# Set up everything the tests run for real, then run the whole suite: `bash scripts/test.sh [pytest args]`
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test || { echo "test: setup failed" >&2; exit 1; }
export LITELLM_LOCAL_MODEL_COST_MAP=True
.venv/bin/python -m pytest "$@"
status=$?
if [[ $status -eq 5 ]]; then
  echo "test: pytest collected no tests; that is a failure here" >&2
  exit 1
fi
exit $status
