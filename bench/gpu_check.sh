#!/usr/bin/env bash
# The GPU checks and figures of the README, in one call: the GPU tests (CUDA-graph step
# against the eager step), then a training job at NIH `ne` scale (pvt_v2_b2_li, 224 px,
# batch 32) with the eager and the CUDA-graph step side by side; ATTENTION=1 adds the
# attention-step benchmark of the paper's three backbones.
# Usage: OUT=results/bench EPOCHS=100 EAGER_EPOCHS=5 bash bench/gpu_check.sh
set -euo pipefail
OUT=${OUT:-results/bench}
EPOCHS=${EPOCHS:-100}
EAGER_EPOCHS=${EAGER_EPOCHS:-5}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PYTHONPATH="workflow${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__)"
status=0
python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu_step.py || status=$?
if [ "${ATTENTION:-0}" = 1 ]; then
  python3 bench/attention_step.py --device cuda --size 224 --batch 32 --repeats 5 \
      --backbones pvt_v2_b2_li vgg16.tv_in1k resnet50.tv_in1k --out "$OUT/attention_step_cuda.json"
fi
python3 bench/train_scale.py --device cuda --backbone pvt_v2_b2_li --epochs "$EPOCHS" \
    --eager-epochs "$EAGER_EPOCHS" --random --threads 8 --out "$OUT/train_scale_cuda.json" 2>&1 | grep -v '^epoch .*batch'
exit "$status"
