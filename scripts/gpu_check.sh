#!/usr/bin/env bash
# Run the GPU checks on a machine with a CUDA GPU and CuPy: CPU/GPU parity tests (golden cases,
# fake quantization, node suite on the CUDA device) and the benchmark on CPU and GPU.
# Usage: bash scripts/gpu_check.sh [OUTDIR]
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-gpu_results}"
mkdir -p "$out"
python3 -c "import cupy; print('cupy', cupy.__version__, 'devices', cupy.cuda.runtime.getDeviceCount())"
python3 -m pytest -q -rs tests/test_gpu.py 2>&1 | tee "$out/gpu_tests.log"
if [ -f conformance/node_suite.py ]; then
  python3 conformance/node_suite.py --device CUDA 2>&1 | tail -40 | tee "$out/node_suite_cuda.log"
fi
if [ -f benchmarks/bench.py ]; then
  python3 benchmarks/bench.py --devices cpu,cuda --batch 1,32 2>&1 | tee "$out/bench.log"
fi
