#!/usr/bin/env bash
# Prepared GPU run of the traffic-engineering benchmark ladder (issue 3; the code is benchmarks/te_ladder.py,
# run through benchmarks/bench_te.py): the whole ladder with `fast` on CUDA, and HiGHS IPM on abilene,
# GEANT and caida 701 as a same-machine reference;
# then the "core" sizing (headroom on forced links, the optimum set in the meshed core) up to
# eurasia.
#
# Run from the repository root on the GPU machine (device tool):
#   command: bash benchmarks/gpu_te.sh      carry: [".whl"]      timeout_s: 560
# .whl holds the wheels the machine's image lacks (topohub, highspy for Python 3.12), made here by
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl topohub==1.5.1 highspy==1.16.0
# (and /.whl/ in .git/info/exclude). Results go to $OUT (te_cuda.json, te_cuda.md, te_cuda.log,
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
# 3 matrices per topology; HiGHS IPM on the three small ones (simplex and PDLP capped at 10 s);
# the path builder on 12 threads.
# The ladder writes its JSON/Markdown after every topology, so a timeout still leaves results.
timeout 330 python3 benchmarks/bench_te.py --device cuda --tag cuda --out "$OUT" --n-tm 3 --workers 12 \
  --lp-topologies abilene,geant,caida-701 --lp-cap 60 --other-cap 10 2>&1 | tee "$OUT/te_cuda.log"
echo "exit ${PIPESTATUS[0]}" >> "$OUT/te_cuda.log"
timeout 200 python3 benchmarks/bench_te.py --device cuda --tag cuda-core --sizing core --out "$OUT" --n-tm 3 \
  --workers 12 --topologies abilene,geant,caida-701,caida-3356,americas,eurasia \
  --lp-topologies abilene,geant,caida-701 --lp-cap 60 --other-cap 10 2>&1 | tee "$OUT/te_cuda-core.log"
echo "exit ${PIPESTATUS[0]}" >> "$OUT/te_cuda-core.log"
