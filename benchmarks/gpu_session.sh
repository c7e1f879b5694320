#!/usr/bin/env bash
# The GPU measurements of issues 16 and 12 (BUILD_NOTES, "GPU, second lease" and "GPU, third lease").
#
#   bash benchmarks/gpu_session.sh smoke    # environment + a tiny transfer in both precisions
#   bash benchmarks/gpu_session.sh default  # one call: the default's compile cost, its quality on the 8 pairs
#   bash benchmarks/gpu_session.sh quality  # call 1: the default at 500 iterations on the 8 pairs; row 6 in TF32
#   bash benchmarks/gpu_session.sh speed    # call 2: bench, TF32 quality, long audio, the batch
#   bash benchmarks/gpu_session.sh evaluate DIR  # here, afterwards: measure the returned results
#
# Inputs: $GPU_IN/inputs/<piece>.wav, the eight quality pairs' pieces rendered here by
# `python3 -m benchmarks.quality` (the device machine has no FluidSynth). Outputs under $OUT
# (at most 8 files come back): log.txt and one tar per step holding the bench JSON or the
# results' WAVs and run records (their quality is measured afterwards on the CPU with
# `python3 -m experiments.evaluate`, so the GPU minutes go to the transfers).
# Carried wheels in .whl (jaxopt, librosa and what they need) are installed first where those are missing.
# Every step has its own time limit and the whole call a deadline ($DEADLINE_S seconds), so
# a step that runs long costs only the steps after it. On a fresh H200 a float32 process spent
# over 90 s compiling and calibrating before its first iteration (BUILD_NOTES, "GPU, second
# lease"; the third found it to be XLA's autotuning), so each mode compiles its float32 programs
# once and then loads them from the compilation cache. 15 minutes of device time hold `quality` (DEADLINE_S=480, about nine
# minutes with the machine's start) and about five minutes of `speed` (DEADLINE_S=270): skip
# `smoke` when the wheels and the script are unchanged since a lease where it passed.
# SMOKE_CPU=1 runs every step at toy sizes on a CPU, to check the script before device time
# is spent.
set -u
MODE=${1:-quality}
case $MODE in smoke|default|quality|speed|evaluate) ;;
  *) echo "usage: $0 smoke|default|quality|speed|evaluate DIR" >&2; exit 2;; esac

if [ "$MODE" = evaluate ]; then  # here, after a lease: the quality of every returned transfer
  DIR=${2:?usage: $0 evaluate DIR (the folder the device tool put the tars in)}
  GPU_IN=${GPU_IN:-gpu_in}
  for tar in "$DIR"/*.tar; do
    X=$(mktemp -d); tar -xf "$tar" -C "$X"
    for wav in "$X"/*/*_*__*.wav; do
      [ -e "$wav" ] || continue
      base=$(basename "$wav" .wav); pair=${base#*_}; c=${pair%%__*}; s=${pair##*__}
      echo "== $(basename "$tar" .tar)/$base"
      python3 -m experiments.evaluate --content="$GPU_IN/inputs/$c.wav" --style="$GPU_IN/inputs/$s.wav" "$wav"
    done
    rm -rf "$X"
  done
  exit 0
fi
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
  IT500=3; IT_LONG=2; LONG_S=20; BENCH="--durations=0.5 --repeats=1 --lbfgs_iters=1 --gemm_n=256"
else
  SIZES=""; IT500=500; IT_LONG=10; LONG_S=180; BENCH="--durations=10"
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

# pair_files I NAME: pair I's content, style and output paths (the output as the quality
# benchmark names it, benchmarks.quality.transfer_path: $R/NAME/<I>_<content>__<style>.wav).
pair_files() {
  local c=${PAIRS[$1]%%:*} s=${PAIRS[$1]##*:}
  echo "$PWD/$GPU_IN/inputs/$c.wav" "$PWD/$GPU_IN/inputs/$s.wav" "$R/$2/${1}_${c}__${s}.wav"
}

# batch_csv NAME "i j ...": a --batch CSV of those pairs writing under $R/NAME.
batch_csv() {
  local name=$1 idx=$2 csv=$R/$1.csv i
  mkdir -p "$R/$name"
  echo "content,style,output" >"$csv"
  for i in $idx; do
    pair_files "$i" "$name" | tr ' ' ',' >>"$csv"
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

# The default as a user runs it (preset 5, float32, 160 iterations from the content, the
# content floor), one process per pair (third lease): the second lease's float32
# processes spent minutes compiling before their first iteration. Is that XLA's autotuning?
#   1. pair 0 on an empty compilation cache with XLA's autotuning off (--xla_gpu_autotune_level=0);
#   2. the eight pairs on that cache (the seconds a user waits once the programs are cached,
#      and the quality of each, measured afterwards here with `evaluate`);
#   3. pair 0 on another empty cache with XLA's own flags (autotuning on);
#   4. the eight pairs on that cache (what a user gets with no flag).
# The third lease ran 1-3 in one call (DEADLINE_S=510: 379 s) and 4 in a second call on the
# still-warm machine (191 s): 1-4 need about 570 s, more than one call holds with a fresh
# machine's start, so a future lease runs `DEADLINE_S=510` and then `STEPS=4`.
if [ "$MODE" = default ]; then
  NOTUNE="--xla_gpu_autotune_level=0"
  D=$SIZES
  [ "${SMOKE_CPU:-0}" = 1 ] && NOTUNE="--xla_backend_optimization_level=1" D="$SIZES --max_iter=3"
  mkdir -p "$R/cold_notune" "$R/warm_notune" "$R/cold_tuned" "$R/warm_tuned"
  if [ "${STEPS:-123}" = 4 ]; then
    for i in 0 1 2 3 4 5 6 7; do
      read -r -a f <<<"$(pair_files "$i" warm_tuned)"
      step "warm_tuned_$i" 60 env JAX_COMPILATION_CACHE_DIR=/tmp/cache_tuned \
        "${T[@]}" --content="${f[0]}" --style="${f[1]}" --output="${f[2]}" $D
      pack warm_tuned warm_tuned
    done
    exit 0
  fi
  read -r -a f <<<"$(pair_files 0 cold_notune)"
  step cold_notune 170 env XLA_FLAGS="$NOTUNE" JAX_COMPILATION_CACHE_DIR=/tmp/cache_notune \
    "${T[@]}" --content="${f[0]}" --style="${f[1]}" --output="${f[2]}" $D
  pack cold_notune cold_notune
  for i in 0 1 2 3 4 5 6 7; do
    read -r -a f <<<"$(pair_files "$i" warm_notune)"
    step "warm_notune_$i" 60 env XLA_FLAGS="$NOTUNE" JAX_COMPILATION_CACHE_DIR=/tmp/cache_notune \
      "${T[@]}" --content="${f[0]}" --style="${f[1]}" --output="${f[2]}" $D
    pack warm_notune warm_notune
  done
  read -r -a f <<<"$(pair_files 0 cold_tuned)"
  step cold_tuned 240 env JAX_COMPILATION_CACHE_DIR=/tmp/cache_tuned \
    "${T[@]}" --content="${f[0]}" --style="${f[1]}" --output="${f[2]}" $D
  pack cold_tuned cold_tuned
  echo "=== done after $(( $(date +%s) - T0 )) s" | tee -a "$LOG"
  exit 0
fi

# singles NAME PRECISION ITERS "i j ...": the default on those pairs, one process each, one after
# another; the first compiles (minutes in float32 on a fresh GPU), the rest load the programs
# from the compilation cache.
singles() {
  local name=$1 prec=$2 iters=$3 i
  mkdir -p "$R/$name"
  for i in $4; do
    local files; read -r -a files <<<"$(pair_files "$i" "$name")"
    step "${name}_$i" 240 "${T[@]}" --content="${files[0]}" --style="${files[1]}" \
      --output="${files[2]}" --max_iter="$iters" --matmul_precision="$prec" $SIZES
    pack "$name" "$name"
  done
}

if [ "$MODE" = quality ]; then  # call 1 (~9 min): the default at 500 iterations on the eight pairs
  # 1. float32, one process per pair (the quality issue's measures, read afterwards on the CPU;
  #    the seconds of pairs 1-7 are a run whose programs come from the cache).
  singles default500_highest highest $IT500 "0 1 2 3 4 5 6 7"
  # 2. Preset 6, 500 iterations, TF32, end to end, cold then warm cache.
  mkdir -p "$R/p6_tf32"
  for run in cold warm; do
    [ $run = cold ] && export JAX_COMPILATION_CACHE_DIR=/tmp/gpu_jax_cache_p6
    step "p6_tf32_$run" 200 "${T[@]}" --content="$P0_C" --style="$P0_S" --output="$R/p6_tf32/$run.wav" \
      --preset=6 --max_iter=$IT500 --matmul_precision=tensorfloat32 $SIZES
  done
  export JAX_COMPILATION_CACHE_DIR=/tmp/gpu_jax_cache
  pack p6_tf32 p6_tf32
  echo "=== done after $(( $(date +%s) - T0 )) s" | tee -a "$LOG"
  exit 0
fi

# speed, call 2 (~9 min).
# 3. Loss+gradient and L-BFGS-B per iteration, row 6 ensemble, 10 s: float32, TF32, bf16.
mkdir -p "$R/bench"
for prec in highest tensorfloat32 bfloat16; do
  step "bench_$prec" 150 python3 -m benchmarks.bench --nets=ensemble --precision=$prec \
    --json="$R/bench/bench_$prec.json" $BENCH
done
pack bench bench

# 4. The default in TF32 on the eight pairs (quality against call 1's float32).
singles default500_tf32 tensorfloat32 $IT500 "0 1 2 3 4 5 6 7"

# 5. Long audio: a content clip of $LONG_S s (the piano tiled), preset 5 (float32) and 6 (TF32);
#    the records hold the time per iteration and the peak GPU memory (device.peak_memory_bytes).
python3 - "$P0_C" "$R/long_content.wav" "$LONG_S" <<'PY' >>"$LOG" 2>&1
import sys, numpy as np, soundfile as sf
x, sr = sf.read(sys.argv[1], dtype="float32")
sf.write(sys.argv[2], np.resize(x, int(float(sys.argv[3]) * sr)), sr, subtype="FLOAT")
PY
mkdir -p "$R/long"
step long_p5 200 "${T[@]}" --content="$R/long_content.wav" --style="$P0_S" --output="$R/long/p5.wav" \
  --max_iter=$IT_LONG $SIZES
step long_p6_tf32 200 "${T[@]}" --content="$R/long_content.wav" --style="$P0_S" --output="$R/long/p6_tf32.wav" \
  --preset=6 --max_iter=$IT_LONG --matmul_precision=tensorfloat32 $SIZES
rm -f "$R/long/"*.wav  # the records are what matter; the WAVs are 16 MB each
pack long long

# 6. Many at once: the eight pairs as one --batch, float32 (transfers per hour against step 1's
#    one after another).
step batch500_highest 300 "${T[@]}" --batch="$(batch_csv batch500_highest "0 1 2 3 4 5 6 7")" \
  --max_iter=$IT500 $SIZES
pack batch500_highest batch500_highest
echo "=== done after $(( $(date +%s) - T0 )) s" | tee -a "$LOG"
