#!/usr/bin/env bash
# Retrain the shipped trainable models on one GPU, all at once and time-boxed, plus one run at
# the scale of Sorscher et al. (4096 recurrent units, 512 place cells, 20 steps, batch 200,
# Adam 1e-4), with learning curves (scripts/train_timeboxed.py).
#
# Usage:  scripts/train_shipped_on_gpu.sh OUT [SECONDS]      (default 330 s of training)
#
# Path integrators train on 20-step walks (the rate-map rollout length) in batches of 200,
# as Sorscher et al. do; ssl-grid uses its preset (N = 128, T = 60, B = 130 permutations).
# Afterwards the 4096-unit run is measured on the GPU with the full rate-map protocol
# (python -m mecbench.training.measure), since its weights are too large to ship.
set -u
OUT=${1:?usage: scripts/train_shipped_on_gpu.sh OUT [SECONDS]}
SECS=${2:-330}
export PYTHONUNBUFFERED=1
S="seq_len=20,batch_size=200"
start=$(date +%s)
python scripts/train_timeboxed.py "$OUT" --seconds "$SECS" --device cuda \
  --run "rnn-relu-dos:rnn-relu-dos:$S" \
  --run "rnn-relu-gaussian:rnn-relu-gaussian:$S" \
  --run "rnn-relu-cartesian:rnn-relu-cartesian:$S" \
  --run "ugrnn-relu-dos:ugrnn-relu-dos:$S" \
  --run "lstm-dos:lstm-dos:$S" \
  --run "ssl-grid:ssl-grid" \
  --run "rnn-relu-dos-4096:rnn-relu-dos:$S,n_hidden=4096,n_place=512,lr=0.0001"
echo "training wall time: $(( $(date +%s) - start )) s"
if [ -f "$OUT/rnn-relu-dos-4096/config.json" ]; then
  python -m mecbench.training.measure "$OUT/rnn-relu-dos-4096" --device cuda \
    --json "$OUT/rnn-relu-dos-4096/measure.json" > /dev/null
fi
echo "total wall time: $(( $(date +%s) - start )) s"
