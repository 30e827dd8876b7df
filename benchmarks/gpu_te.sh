#!/usr/bin/env bash
# Prepared GPU run of the traffic-engineering benchmark ladder (the code is benchmarks/te_ladder.py, run
# through benchmarks/bench_te.py), issue 16's GPU targets first: the `hard` sizing (capacities 70% x U(0.6, 1.2)
# per circuit) at scale -- americas, eurasia and world, one matrix each, with warm starts (targets on an H200:
# eurasia <= 1 s, world <= 5 s per solve at a certified gap <= 1%) -- then the `hard-core` ladder's small rungs (the
# `hard` draws with headroom on forced loads: at caida `hard` is certified by forced links) with HiGHS
# IPM as the same-machine reference (abilene, GEANT, caida-701; 5 matrices), then, if time is left, the
# `first-path` ladder of issue 3 (te_cuda.*, last run on an H200 with an earlier solver version).
#
# Run from the repository root on the GPU machine (device tool):
#   command: bash benchmarks/gpu_te.sh      carry: [".whl"]      timeout_s: 560
# .whl holds the wheels the machine's image lacks (topohub, highspy for Python 3.12), made here by
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl topohub==1.5.1 highspy==1.16.0
# (and /.whl/ in .git/info/exclude). Results go to $OUT (te_cuda-hard-scale.*, te_cuda-hard-core.*, te_cuda.* and their .log,
# te_cuda_env.txt); without $OUT, to benchmarks/results.
set -uo pipefail
OUT=${OUT:-benchmarks/results}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
{
  nvidia-smi
  nproc
  free -g
  python3 -c "import sys, torch, numpy, scipy, highspy, topohub; print(sys.version); print('torch', torch.__version__, torch.cuda.get_device_name(0)); print('numpy', numpy.__version__, 'scipy', scipy.__version__)"
} > "$OUT/te_cuda_env.txt" 2>&1
# Each run writes its JSON/Markdown after every topology, so a timeout still leaves results.
timeout 300 python3 benchmarks/bench_te.py --device cuda --tag cuda-hard-scale --sizing hard --out "$OUT" --n-tm 1 \
  --workers 12 --topologies americas,eurasia,world --no-lp 2>&1 | tee "$OUT/te_cuda-hard-scale.log"
echo "exit ${PIPESTATUS[0]}" >> "$OUT/te_cuda-hard-scale.log"
timeout 150 python3 benchmarks/bench_te.py --device cuda --tag cuda-hard-core --sizing hard-core --out "$OUT" --n-tm 5 \
  --workers 12 --topologies abilene,geant,caida-701,caida-3356 --lp-topologies abilene,geant,caida-701 \
  --lp-cap 60 --other-cap 10 2>&1 | tee "$OUT/te_cuda-hard-core.log"
echo "exit ${PIPESTATUS[0]}" >> "$OUT/te_cuda-hard-core.log"
timeout 100 python3 benchmarks/bench_te.py --device cuda --tag cuda --out "$OUT" --n-tm 3 --workers 12 \
  --topologies abilene,geant,caida-701,caida-3356,americas,eurasia --lp-topologies abilene,geant --lp-cap 60 \
  --other-cap 10 2>&1 | tee "$OUT/te_cuda.log"
echo "exit ${PIPESTATUS[0]}" >> "$OUT/te_cuda.log"
