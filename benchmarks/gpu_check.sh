#!/usr/bin/env bash
# The torch engine on a CUDA GPU in one prepared check (under 10 minutes):
# the device, parity of model 3 with the CPU (forward pass, one Nesterov
# step), the training epoch's milliseconds per sample, the throughput of 1, 2
# and 4 runs sharing the GPU, and the estimated time of the paper's tables on
# 1 and 8 such GPUs.  Run from anywhere; the last line is key=value pairs:
#
#   bash benchmarks/gpu_check.sh                      # in a checkout with its .venv
#   docker run --rm --gpus all beetles-gpu bash benchmarks/gpu_check.sh
#
# Without a CUDA device it prints one line saying so and exits 0.  Extra
# arguments go to benchmarks/gpu_check.py (python benchmarks/gpu_check.py --help).
# Exit status: 0 done, 1 a parity check failed or a step ran past its time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -x .venv/bin/python ]]; then
    PY=.venv/bin/python
elif command -v python3 >/dev/null && python3 -c "import beetles, torch" >/dev/null 2>&1; then
    PY=python3
else
    echo "gpu_check: no .venv here and python3 lacks beetles or torch: creating .venv with pip install -e '.[test]' (not counted in the 10 minutes)"
    python3 -m venv .venv
    .venv/bin/pip install --quiet -e '.[test]'
    PY=.venv/bin/python
fi
export PYTHONUNBUFFERED=1

# step: SECONDS COMMAND... ; a step past its time is a clear failure, not a hang.
step() {
    local limit=$1 status=0
    shift
    timeout --kill-after=10 "$limit" "$@" || status=$?
    if [[ $status -eq 124 || $status -eq 137 ]]; then
        echo "gpu_check: FAILED: '$*' ran past its $limit s"
        exit 1
    fi
    return "$status"
}

# 1. Does torch see a CUDA device?  (exit 3: no, after one line saying so)
status=0
step 90 "$PY" benchmarks/gpu_check.py --probe || status=$?
if [[ $status -eq 3 ]]; then
    exit 0
elif [[ $status -ne 0 ]]; then
    echo "gpu_check: FAILED: the CUDA probe stopped with status $status"
    exit 1
fi

# 2. Parity, timings and the estimate; gpu_check.py skips the sharing
#    measurements that no longer fit in its own budget (--budget, seconds).
step 480 "$PY" benchmarks/gpu_check.py --budget 420 "$@"
