#!/usr/bin/env bash
# The GPU figures of the README, in one call: the attention step with the paper's three
# backbones (224 px, batch 32) and a training job at NIH `ne` scale (pvt_v2_b2_li).
# Usage: OUT=results/bench EPOCHS=15 bash bench/gpu_check.sh
set -euo pipefail
OUT=${OUT:-results/bench}
EPOCHS=${EPOCHS:-15}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PYTHONPATH="workflow${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__)"
python3 bench/attention_step.py --device cuda --size 224 --batch 32 --repeats 5 \
    --backbones pvt_v2_b2_li vgg16.tv_in1k resnet50.tv_in1k --out "$OUT/attention_step_cuda.json"
python3 bench/train_scale.py --device cuda --backbone pvt_v2_b2_li --epochs "$EPOCHS" --random \
    --threads 8 --out "$OUT/train_scale_cuda.json" 2>&1 | grep -v '^epoch .*batch'
