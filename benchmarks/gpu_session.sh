#!/usr/bin/env bash
# The GPU measurements of issue 16 in one device call (BUILD_NOTES, "GPU, second lease").
#
#   bash benchmarks/gpu_session.sh smoke   # environment + a tiny transfer in both precisions
#   bash benchmarks/gpu_session.sh main    # the measurements, most important first
#   bash benchmarks/gpu_session.sh second  # the default end to end and row 6 in float32 only
#
# Inputs: $GPU_IN/inputs/<piece>.wav, the eight quality pairs' pieces rendered here by
# `python3 -m benchmarks.quality` (the device machine has no FluidSynth). Outputs under $OUT
# (at most 8 files come back): log.txt and a.tar, b.tar, c.tar holding the bench JSON and the
# results' WAVs and run records (their quality is measured afterwards on the CPU with
# `python3 -m experiments.evaluate`, so the GPU minutes go to the transfers).
# Carried wheels in .whl (jaxopt, librosa and what they need) are installed first where those are missing.
# Every step has its own time limit and the whole call a deadline ($DEADLINE_S seconds), so
# a step that runs long costs only the steps after it. On a fresh H200 a float32 process spent
# over 90 s compiling and calibrating before its first iteration (BUILD_NOTES, "GPU, second
# lease"): 15 minutes of device time hold about five such processes. SMOKE_CPU=1 runs every step at toy
# sizes on a CPU, to check the script before device time is spent.
set -u
MODE=${1:-main}
OUT=${OUT:-out/gpu_session}
GPU_IN=${GPU_IN:-gpu_in}
DEADLINE_S=${DEADLINE_S:-520}
R=${RESULTS:-/tmp/gpu_results}
mkdir -p "$OUT" "$R"
OUT=$(cd "$OUT" && pwd)
LOG=$OUT/log.txt
T0=$(date +%s)
export PYTHONUNBUFFERED=1
export JAX_COMPILATION_CACHE_DIR=${JAX_COMPILATION_CACHE_DIR:-/tmp/gpu_jax_cache}

if ! python3 -c "import jaxopt, librosa, mido" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD
fi

PAIRS=(piano:rock_band string_quartet:electronic rock_band:choir electronic:string_quartet
       nylon_guitar:brass choir:nylon_guitar brass:drum_groove piano:drum_groove)
if [ "${SMOKE_CPU:-0}" = 1 ]; then
  SIZES="--stft_filters=32 --mel_filters=16 --cqt_filters=8"
  IT500=3; IT2000=4; IT_LONG=2; LONG_S=20; BENCH="--durations=0.5 --repeats=1 --lbfgs_iters=1 --gemm_n=256"
else
  SIZES=""; IT500=500; IT2000=2000; IT_LONG=10; LONG_S=180; BENCH="--durations=10"
fi

left() { echo $(( DEADLINE_S - ($(date +%s) - T0) )); }

# step NAME LIMIT_S CMD...: runs CMD with the smaller of LIMIT_S and the time left, logs it.
step() {
  local name=$1 limit=$2; shift 2
  local l; l=$(left)
  if [ "$l" -lt 15 ]; then echo "=== $name skipped: ${l} s left" | tee -a "$LOG"; return 99; fi
  [ "$limit" -gt "$l" ] && limit=$l
  echo "=== $name start $(date +%T) limit ${limit} s: $*" | tee -a "$LOG"
  local s rc; s=$(date +%s.%N)
  timeout "$limit" "$@" >>"$LOG" 2>&1; rc=$?
  echo "=== $name rc=$rc seconds=$(python3 -c "print(round($(date +%s.%N) - $s, 1))")" | tee -a "$LOG"
  return $rc
}

# batch_csv NAME "i j ...": a --batch CSV of those pairs writing under $R/NAME.
batch_csv() {
  local name=$1 idx=$2 csv=$R/$1.csv
  mkdir -p "$R/$name"
  echo "content,style,output" >"$csv"
  for i in $idx; do
    local c=${PAIRS[$i]%%:*} s=${PAIRS[$i]##*:}
    echo "$PWD/$GPU_IN/inputs/$c.wav,$PWD/$GPU_IN/inputs/$s.wav,$R/$name/${i}_${c}__${s}.wav" >>"$csv"
  done
  echo "$csv"
}

# pack TAR DIR...: (re)writes $OUT/TAR.tar from those folders of $R (at most 8 files come back).
# Figures (PNG) stay behind: a tar over 16 MiB does not come back (the first lease lost one so).
pack() { local t=$1; shift; (cd "$R" && tar --exclude='*.png' -cf "$OUT/$t.tar" "$@") 2>>"$LOG"; }

T=(python3 -m experiments.transfer --checkpoint_every=0 --noquality --nopage)
P0_C=$GPU_IN/inputs/piano.wav; P0_S=$GPU_IN/inputs/rock_band.wav

{ date; nvidia-smi -L 2>&1; python3 -c "import jax, jaxopt, librosa; print('jax', jax.__version__, jax.devices())"; } >>"$LOG" 2>&1

if [ "$MODE" = smoke ]; then
  mkdir -p "$R/smoke"
  for prec in highest tensorfloat32; do
    step "smoke_$prec" 120 "${T[@]}" --content="$P0_C" --style="$P0_S" --output="$R/smoke/$prec.wav" \
      --stft_filters=64 --mel_filters=32 --max_iter=20 --matmul_precision=$prec || exit 4
  done
  pack smoke smoke
  exit 0
fi

if [ "$MODE" = second ]; then  # the second lease's few minutes: the default end to end, row 6 in float32
  mkdir -p "$R/second"
  step default500_highest 150 "${T[@]}" --content="$P0_C" --style="$P0_S" --output="$R/second/default500.wav" \
    --max_iter=$IT500 $SIZES
  cp "$R/second/default500.wav" "$R/second/default500.json" "$OUT/" 2>>"$LOG"
  step bench_highest 80 python3 -m benchmarks.bench --nets=ensemble --precision=highest \
    --json="$OUT/bench_highest.json" $BENCH
  exit 0
fi

# 1. The default (preset 5 from the content, paper widths) on all eight pairs at 500 iterations,
#    float32, one --batch (8 rows vmapped on one GPU).
step batch500_highest 240 "${T[@]}" --batch="$(batch_csv batch500_highest "0 1 2 3 4 5 6 7")" \
  --max_iter=$IT500 $SIZES
pack a batch500_highest

# 2. End to end, preset 6, 500 iterations, TF32, 10 s: cold (empty compilation cache), then warm.
mkdir -p "$R/p6_tf32"
for run in cold warm; do
  [ $run = cold ] && export JAX_COMPILATION_CACHE_DIR=/tmp/gpu_jax_cache_p6
  step "p6_tf32_$run" 150 "${T[@]}" --content="$P0_C" --style="$P0_S" --output="$R/p6_tf32/$run.wav" \
    --preset=6 --max_iter=$IT500 --matmul_precision=tensorfloat32 $SIZES
done
export JAX_COMPILATION_CACHE_DIR=/tmp/gpu_jax_cache
pack a batch500_highest p6_tf32

# 3. Loss+gradient and L-BFGS-B per iteration, row 6 ensemble, 10 s: float32, TF32, bf16.
for prec in highest tensorfloat32 bfloat16; do
  mkdir -p "$R/bench"
  step "bench_$prec" 80 python3 -m benchmarks.bench --nets=ensemble --precision=$prec \
    --json="$R/bench/bench_$prec.json" $BENCH
done
pack a batch500_highest p6_tf32 bench

# 4. The default on all eight pairs in TF32 (quality against step 1's float32).
step batch500_tf32 120 "${T[@]}" --batch="$(batch_csv batch500_tf32 "0 1 2 3 4 5 6 7")" \
  --max_iter=$IT500 --matmul_precision=tensorfloat32 $SIZES
pack b batch500_tf32

# 5. Long audio: a content clip of $LONG_S s (the piano tiled), preset 5 (float32) and 6 (TF32).
python3 - "$P0_C" "$R/long_content.wav" "$LONG_S" <<'EOF' >>"$LOG" 2>&1
import sys, numpy as np, soundfile as sf
x, sr = sf.read(sys.argv[1], dtype="float32")
n = int(float(sys.argv[3]) * sr)
sf.write(sys.argv[2], np.resize(x, n), sr, subtype="FLOAT")
EOF
mkdir -p "$R/long"
step long_p5 100 "${T[@]}" --content="$R/long_content.wav" --style="$P0_S" --output="$R/long/p5.wav" \
  --max_iter=$IT_LONG $SIZES
step long_p6_tf32 140 "${T[@]}" --content="$R/long_content.wav" --style="$P0_S" --output="$R/long/p6_tf32.wav" \
  --preset=6 --max_iter=$IT_LONG --matmul_precision=tensorfloat32 $SIZES
rm -f "$R/long/"*.wav  # the records (time, peak memory) are what matter; the WAVs are 16 MB each
pack b batch500_tf32 long

# 6. One after another: the default on pairs 0 and 1 as single runs (warm cache), 500 iterations.
mkdir -p "$R/single500"
for i in 0 1; do
  c=${PAIRS[$i]%%:*}; s=${PAIRS[$i]##*:}
  step "single500_$i" 60 "${T[@]}" --content="$GPU_IN/inputs/$c.wav" --style="$GPU_IN/inputs/$s.wav" \
    --output="$R/single500/${i}_${c}__${s}.wav" --max_iter=$IT500 $SIZES
done
pack b batch500_tf32 long single500

# 7. More iterations where the default has not beaten the baseline on the CPU: 2000, float32.
step batch2000_highest 400 "${T[@]}" --batch="$(batch_csv batch2000_highest "2 3 5 6 7")" \
  --max_iter=$IT2000 $SIZES
pack c batch2000_highest
echo "=== done after $(( $(date +%s) - T0 )) s" | tee -a "$LOG"
