#!/usr/bin/env bash
# Rebuild the reference leaderboard shipped in leaderboards/: every built-in model (trained
# checkpoints and untrained/<arch> networks; the control/* family is left to `mecbench
# controls`) on every mec-sim benchmark, all layers, with mecbench's own `score --save`.
#
# Usage:  scripts/make_reference_leaderboard.sh [OUT_DIR]        (default: leaderboards)
# Environment:
#   MODELS="a b"      models to score (default: every registered model except families)
#   BENCHMARKS="x y"  benchmarks (default: every registered mec-sim.* benchmark)
#   JOBS=N            work units run at once (default 1)
#   LAYERS=all|NAME|default   layers (default all; "default": each model's default layer)
#   RESUME=0|1        skip a (model, benchmark) whose entries are already in OUT at the
#                     benchmark's current version for every requested layer (default 1), so an
#                     interrupted rebuild continues where it stopped (each score is appended to
#                     its board as soon as it is done)
#   CONTROLS=0|1      finally run `mecbench controls mec-sim.ridge --save` on every
#                     model@layer of that board (default 1 when mec-sim.ridge is among the
#                     benchmarks): their entries
#                     then carry the dimension-matched control score, and the analysis and its
#                     plot land in OUT/controls/ for the report
# Models are the outer loop so that each model's rate maps are computed once and read from
# the cache for the other benchmarks. A failing (model, benchmark) pair is logged and skipped;
# the list of failures is printed at the end and the exit code is 1 if there was one.
set -u
OUT=${1:-leaderboards}
mkdir -p "$OUT"
OUT_ABS=$(cd "$OUT" && pwd)
JOBS=${JOBS:-1}
LAYERS=${LAYERS:-all}
MODELS=${MODELS:-$(mecbench models --json | python -c '
import json, sys
print(" ".join(r["name"] for r in json.load(sys.stdin)["models"]
               if not r["name"].endswith("/*")))')}
BENCHMARKS=${BENCHMARKS:-$(mecbench benchmarks --json | python -c '
import json, sys
print(" ".join(r["name"] for r in json.load(sys.stdin)["benchmarks"]
               if r["name"].startswith("mec-sim.")))')}
# exit 0 when OUT's board of benchmark $2 holds, at the benchmark's current version, an entry of
# model $1 for every layer LAYERS asks for
# (run from / so that the installed mecbench, with its mecbench.models plugins, is imported
# rather than the source folder)
on_board() {
  (cd / && python - "$OUT_ABS" "$1" "$2" "$LAYERS") <<'PY'
import sys
from mecbench import leaderboard as lb, registry
out, model, bench, layers = sys.argv[1:]
version = registry.load("benchmark", bench).version
have = {e["layer"] for e in lb.load_board(out, bench).find(model)
        if e["benchmark_version"] == version}
if layers in ("all", "default"):
    provider = registry.load("model", model)
    want = set(provider.layers) if layers == "all" else {provider.default_layer}
else:
    want = {layers}
sys.exit(0 if want <= have else 1)
PY
}
failed=()
for model in $MODELS; do
  for bench in $BENCHMARKS; do
    if [ "${RESUME:-1}" = 1 ] && on_board "$model" "$bench"; then
      echo "== $model on $bench: already on the board (version current), skipped"
      continue
    fi
    start=$(date +%s)
    layer_args=(--layer "$LAYERS")
    [ "$LAYERS" = default ] && layer_args=()
    if mecbench -q score "$model" "$bench" "${layer_args[@]}" --save --leaderboard-dir "$OUT" \
         --jobs "$JOBS"; then
      echo "== $model on $bench: $(( $(date +%s) - start )) s"
    else
      echo "!! $model on $bench FAILED" >&2
      failed+=("$model:$bench")
    fi
  done
done
if [ "${CONTROLS:-1}" = 1 ] && [[ " $BENCHMARKS " == *" mec-sim.ridge "* ]]; then
  start=$(date +%s)
  # every (model, layer) now on the board, as MODEL@LAYER
  ON_BOARD=$(python -c '
import sys
from mecbench import leaderboard as lb
board = lb.load_board(sys.argv[1], "mec-sim.ridge")
print(" ".join(sorted(e["model"] + "@" + e["layer"] for e in board.latest())))' "$OUT")
  # shellcheck disable=SC2086
  if mecbench -q controls mec-sim.ridge --models $ON_BOARD --save --leaderboard-dir "$OUT" \
       --jobs "$JOBS" > /dev/null; then
    echo "== controls on mec-sim.ridge: $(( $(date +%s) - start )) s"
  else
    echo "!! controls on mec-sim.ridge FAILED" >&2
    failed+=("controls:mec-sim.ridge")
  fi
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
