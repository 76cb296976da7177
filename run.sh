#!/usr/bin/env bash
# The project's two commands:  ./run.sh demo   |   ./run.sh test   (also: bench, lint)
set -euo pipefail
cd "$(dirname "$0")"
cmd=${1:-}
shift || true
case "$cmd" in
    demo)  bash scripts/setup.sh && exec .venv/bin/python -m firmware_sim.demo "$@" ;;
    test)  bash scripts/setup.sh && exec .venv/bin/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder "$@" ;;
    bench) bash scripts/setup.sh && exec .venv/bin/python bench/fanout.py "$@" ;;
    lint)  bash scripts/setup.sh && .venv/bin/ruff check . && .venv/bin/lint-imports && exec .venv/bin/mypy ;;
    *) echo "usage: ./run.sh demo|test|bench|lint" >&2; exit 2 ;;
esac
