#!/usr/bin/env bash
# The same bits on every architecture and compiler: tests/crossarch/checksum.c (the maths and
# the loss terms) and kernels.c (the block kernels on edge rows, NaNs of every kind among
# them) built with gcc and clang for x86-64 (baseline, v3, v4; and kernels.c calling the
# extension's AVX2 kernels) and with Debian's aarch64
# cross compiler (run under qemu-user), one checksum each for all; the two forms of exp equal
# on the normal range (expnormal.c); and the kernel headers compiled for aarch64 with their
# exp/log loops vectorised (NEON).  Needs gcc, clang, gcc-aarch64-linux-gnu, qemu-user.
set -euo pipefail
cd "$(dirname "$0")"
SRC=../../fastent/src
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
F=(-O3 -fopenmp-simd -fno-math-errno -fno-trapping-math -ffp-contract=off -std=gnu11 -I"$SRC")
PYINC=$(python3 -c "import sysconfig; print(sysconfig.get_paths()['include'])")
for prog in checksum kernels; do
  declare -A sums=()
  for cc in gcc clang; do
    # "avx2 kernels": the baseline build calling the kernels the extension runs on AVX2
    # (compiled under its target pragma, as there; FE_WIDE code paths)
    for arch in x86-64 x86-64-v3 x86-64-v4 "avx2 kernels"; do
      flags=(-march="$arch")
      if [ "$arch" = "avx2 kernels" ]; then
        [ $prog = kernels ] && grep -q avx2 /proc/cpuinfo || continue
        flags=(-march=x86-64 -DFE_KERNELS_AVX2)
      fi
      "$cc" "${F[@]}" -I"$PYINC" "${flags[@]}" $prog.c -o "$out/c" -lm
      if [ "$arch" = x86-64-v4 ] && ! grep -q avx512f /proc/cpuinfo; then continue; fi
      sums["$cc $arch"]=$("$out/c")
    done
  done
  aarch64-linux-gnu-gcc "${F[@]}" -I"$PYINC" -static $prog.c -o "$out/arm" -lm
  sums["gcc aarch64 (qemu)"]=$(qemu-aarch64 "$out/arm")
  ref=${sums["gcc x86-64"]}
  echo "  $prog.c:"
  for k in "${!sums[@]}"; do
    echo "    $k: ${sums[$k]}"
    [ "${sums[$k]}" = "$ref" ] || { echo "crossarch: $prog.c, $k differs" >&2; exit 1; }
  done
  unset sums
done
# the exp of the normal range gives the general exp's bits (every float of the range)
arch=x86-64; grep -q avx2 /proc/cpuinfo && arch=x86-64-v3
gcc "${F[@]}" -march=$arch expnormal.c -o "$out/e" -lm
"$out/e"
# every family's kernels for aarch64: the elementwise, row and exp loops vectorise
printf '#include <Python.h>\n#include "fe_binary.h"\n#include "fe_softmax.h"\n#include "fe_divergence.h"\nvoid *k[] = {(void *)fe_bce_f32_base, (void *)fe_bce_f64_base, (void *)fe_softmax_block_f32_base, (void *)fe_softmax_block_f64_base, (void *)fe_div_block_f32_base, (void *)fe_div_block_f64_base};\n' > "$out/k.c"
aarch64-linux-gnu-gcc "${F[@]}" -fopenmp -I"$PYINC" -c "$out/k.c" -o "$out/k.o" \
  -fopt-info-vec-optimized 2> "$out/vec.txt"
for family in fe_binary_impl.h fe_divergence_impl.h fe_softmax_impl.h; do
  grep -q "$family:.*loop vectorized" "$out/vec.txt" \
    || { echo "crossarch: no loop of $family vectorised on aarch64" >&2; exit 1; }
done
echo "  aarch64: the exp/log loops of every family vectorise (NEON)"
