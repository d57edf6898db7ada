#!/usr/bin/env bash
# One visit to a lent GPU: the CUDA tests, then the GPU benchmarks, in under 12 minutes
# (the four steps time out at 120 + 240 + 200 + 150 s).
# Results go to $OUT (or ./gpu-results). Run from the repository root:
#     bash benchmarks/gpu_visit.sh
# The machine's own Python with PyTorch (2.11 on the lent H100) is used, with ganforge
# from src/ (no install: the machine is offline); it needs the project's other dependencies
# (numpy, pillow, pyyaml, safetensors, scipy, scikit-learn, matplotlib, tqdm, pytest).
set -uo pipefail
PYTHON=${PYTHON:-python}
OUT=${OUT:-gpu-results}
mkdir -p "$OUT"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $PYTHON -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'python', sys.version.split()[0])"
} 2>&1 | tee "$OUT/environment.txt"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

# 1. The CUDA-only tests (real graph capture, fused Adam, bf16), ~1 minute.
timeout 120 $PYTHON -m pytest tests/training/test_fast.py -q -x 2>&1 | tail -15 | tee "$OUT/tests.txt"

# 2. Throughput at batch 128 and 1024 against the main.py pipeline, ~3 minutes.
timeout 240 $PYTHON benchmarks/throughput.py --device cuda --repeats 2 \
  --json "$OUT/throughput.json" 2>&1 | grep -v '^ \|^[{}]' | tee "$OUT/throughput.txt"

# 3. Time to quality (fid_fmnist), when the evaluator weights are there, ~2 minutes.
timeout 200 $PYTHON benchmarks/time_to_quality.py --device cuda --budget-seconds 60 \
  --json "$OUT/time_to_quality.json" 2>&1 | grep -v '^ \|^[{}]' | tee "$OUT/time_to_quality.txt"

# 4. CycleGAN (issue 10): ganforge's cyclegan iteration against the reference's
#    optimize_parameters (resnet_9blocks, 70x70 PatchGAN, ngf=ndf=64, batch 1, 128 px), ~2 minutes.
timeout 150 $PYTHON benchmarks/throughput.py --model cyclegan --device cuda --repeats 3 \
  --json "$OUT/throughput-cyclegan.json" 2>&1 | tee "$OUT/throughput-cyclegan.txt"
