#!/bin/sh
# Benchmarks Tensorscope (Vulkan) against numpy/OpenBLAS and PyTorch on the CPU,
# interleaved in one session:
#  - SGEMM fp32 at 256^3, 1024^3 and 2048^3 (both matmul variants and the
#    autotuner's pick) and at the models' real GEMM shapes (the 784-128-10 MLP at
#    batch 64 and 256, the seed CNN's convolutions as im2col GEMMs at batch 64,
#    forward and backward), against numpy;
#  - the decision-boundary refresh (spiral-mlp on a 256x256 grid, fused and
#    layer by layer, ms per refresh beside the 5 ms target), against PyTorch;
#  - the 784-128-10 MLP and the seed CNN (assets/models/cifar10-cnn.json on
#    random 3x32x32 data, batch 64), training and inference, against PyTorch;
#  - char-gpt (assets/models/char-gpt.json) training at batch 12, tokens/s,
#    against the same GPT written out in PyTorch;
#  - our bias + activation kernels alone.
# Prints the tables and appends them, with the date and machine, to
# tests/bench/RESULTS.md. Takes about 3-4 minutes on a quiet 2-core machine, and
# about 2 more for char-gpt (the first run also autotunes each GEMM shape once;
# the choices are cached), longer when other work shares the cores.
#
#   tests/bench/run.sh [BUILD_DIR] [bench.py options: --runs N, --quick, --only cnn|kernels|gemm|boundary|gpt, --no-append]
#
# BUILD_DIR defaults to build/ in the source tree; it must hold a built
# `tensorscope` (cmake --build BUILD_DIR). $TENSORSCOPE_BIN overrides the
# executable. Installs what the peers need (apt-get, as tensorscope.sh does).
# The peers' settings (OPENBLAS_CORETYPE=SkylakeX on AVX-512 CPUs, 2 threads,
# OMP_WAIT_POLICY=PASSIVE) are set by bench.py for the peer processes only.
# Exit status 3: a peer ran reference BLAS, so no ratio was printed (bench.py
# says why and how to fix it).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build"
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
  build=$1
  shift
fi
binary=${TENSORSCOPE_BIN:-$build/tensorscope}
if [ ! -x "$binary" ]; then
  echo "run.sh: $binary not found; build first: cmake -S $root -B $build -G Ninja && ninja -C $build" >&2
  exit 2
fi
if ! echo '{"op": "quit"}' | "$binary" bench --serve >/dev/null; then
  echo "run.sh: '$binary bench --serve' failed (above); is app/bench.cpp wired into app/commands.cpp?" >&2
  exit 2
fi
# The peers, the optimised BLAS they must run on (Debian's numpy and torch link
# the generic libblas.so.3, which without libopenblas0-pthread is the reference
# BLAS, ~50x slower) and threadpoolctl, with which bench.py describes the BLAS
# each peer's GEMM really calls; it refuses a ratio against reference BLAS.
"$root/assets/scripts/install-missing.sh" python3 python3-numpy python3-torch python3-threadpoolctl \
  libopenblas0-pthread
if ! /usr/bin/python3 -c 'import numpy, torch, threadpoolctl' 2>/dev/null; then
  echo "run.sh: /usr/bin/python3 cannot import numpy, torch and threadpoolctl although their packages are installed." >&2
  exit 2
fi
exec /usr/bin/python3 "$here/bench.py" --binary "$binary" "$@"
