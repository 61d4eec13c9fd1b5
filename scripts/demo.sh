#!/usr/bin/env bash
# Set up (first run only) and run the demo: `bash scripts/demo.sh [--port N] [--duration SECONDS]`
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/aiops-maturity demo "$@"
