/* checksum.c -- fastent's maths (src/fe_math.h) and loss terms (src/fe_terms_impl.h) over a
 * fixed set of 200 000 bit patterns per function (every binade, both signs, the specials),
 * in `omp simd` loops as the kernels run them; prints a checksum of the result bits.
 * tests/crossarch/run.sh builds it with gcc and clang for each x86-64 level and for aarch64
 * (run under qemu) and requires one checksum: the same bits on every architecture. */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
typedef long Py_ssize_t;
#define FE_PRAGMA(x) _Pragma(#x)
#define FE_INLINE static inline __attribute__((always_inline))
#define FE_RESTRICT restrict
#include "fe_math.h"
#define FE_SIMD_H
#include "fe_terms.h"
static uint64_t h = 1469598103934665603ull;
static void mix(const void *p, size_t n) { const unsigned char *c = p; for (size_t i = 0; i < n; i++) { h ^= c[i]; h *= 1099511628211ull; } }
#define N 200000
static float xf[N], yf[N]; static double xd[N], yd[N];
int main(void) {
  uint32_t s = 12345;
  for (int i = 0; i < N; i++) { s = s * 1664525u + 1013904223u; uint32_t b = s & 0x7fffffffu; memcpy(&xf[i], &b, 4); if (i & 1) xf[i] = -xf[i];
    uint64_t bd = ((uint64_t)s << 32 | (s * 2654435761u)) & 0x7fffffffffffffffull; memcpy(&xd[i], &bd, 8); if (i & 2) xd[i] = -xd[i]; }
  #pragma omp simd
  for (int i = 0; i < N; i++) yf[i] = fe_expf(xf[i] * 1e-36f); mix(yf, sizeof yf);
  #pragma omp simd
  for (int i = 0; i < N; i++) yf[i] = fe_logf(xf[i]); mix(yf, sizeof yf);
  #pragma omp simd
  for (int i = 0; i < N; i++) yf[i] = fe_log1pf(xf[i]); mix(yf, sizeof yf);
  #pragma omp simd
  for (int i = 0; i < N; i++) { float g; yf[i] = fe_bce_logit_f32(0.3f, xf[i] * 1e-37f, 1.0f, &g, 0); yf[i] += g; } mix(yf, sizeof yf);
  #pragma omp simd
  for (int i = 0; i < N; i++) { float g; yf[i] = fe_kl_f32(0.25f, xf[i] < 0 ? -xf[i] : xf[i], 0.0f, &g, 0); } mix(yf, sizeof yf);
  #pragma omp simd
  for (int i = 0; i < N; i++) { float g; yf[i] = fe_kl_f32(0.25f, xf[i] < 0 ? -xf[i] : xf[i], 1e-7f, &g, 1); } mix(yf, sizeof yf);
  #pragma omp simd
  for (int i = 0; i < N; i++) { float g; yf[i] = fe_bce_logit_f32((float)(i & 1), xf[i] * 1e-37f, 1.0f, &g, 1); yf[i] += g; } mix(yf, sizeof yf);
  #pragma omp simd
  for (int i = 0; i < N; i++) { float g; yf[i] = fe_bce_prob_f32((float)(i & 1), xf[i] * 1e-38f, 1e-7f, 1.0f - 1e-7f, &g, 1, 1); yf[i] += g; } mix(yf, sizeof yf);
  #pragma omp simd
  for (int i = 0; i < N; i++) yd[i] = fe_exp(xd[i] * 1e-305); mix(yd, sizeof yd);
  #pragma omp simd
  for (int i = 0; i < N; i++) yd[i] = fe_log(xd[i]); mix(yd, sizeof yd);
  #pragma omp simd
  for (int i = 0; i < N; i++) yd[i] = fe_log1p(xd[i]); mix(yd, sizeof yd);
  #pragma omp simd
  for (int i = 0; i < N; i++) { double g; yd[i] = fe_kl_f64(0.25, xd[i] < 0 ? -xd[i] : xd[i], 0.0, &g, 0); } mix(yd, sizeof yd);
  #pragma omp simd
  for (int i = 0; i < N; i++) { double g; yd[i] = fe_kl_f64(0.25, xd[i] < 0 ? -xd[i] : xd[i], 1e-15, &g, 1); } mix(yd, sizeof yd);
  printf("%016llx\n", (unsigned long long)h);
  return 0;
}
