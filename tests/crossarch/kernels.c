/* kernels.c -- fastent's block kernels (softmax cross-entropy by pairs, rows in lanes and long
 * rows; the distribution divergences; the divergences from logits; the elementwise family)
 * and the row driver's last step (rows_finish, which writes each row's value) on rows built
 * from edge values: +-0, +-1, +-1e4, +-inf, subnormals, and NaNs of both signs with and
 * without a payload -- the inputs whose results are NaN made by the arithmetic (inf - inf,
 * 0 * inf) or carried from an input.  Prints a checksum of every written value and gradient.
 * tests/crossarch/run.sh builds it like checksum.c (gcc and clang, x86-64 levels, aarch64 under
 * qemu) and requires one checksum: a NaN result is the one NaN (fe_terms.h) everywhere. */
#include <Python.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include "fe_binary.h"
#include "fe_softmax.h"
#include "fe_divergence.h"
#include "fe_divlogits.h"
#include "fe_rows.h"

static uint64_t h = 1469598103934665603ull;
static void mix(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) { h ^= c[i]; h *= 1099511628211ull; }
}

/* the baseline's kernels, or with FE_KERNELS_AVX2 (run.sh's "avx2 kernels" build: x86-64
 * flags, as the extension's) those the extension runs on AVX2 (FE_WIDE paths among them) */
#if FE_MULTI_ISA && defined(FE_KERNELS_AVX2)
#define KERNEL(name, DT) fe_##name##_##DT##_avx2
#else
#define KERNEL(name, DT) fe_##name##_##DT##_base
#endif

#define NE 16
#define MAXR 256
#define MAXC 17
static double edge(int k)
{
    const double v[NE] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e4, -1e4, INFINITY, -INFINITY,
                          4.9e-324, 1e-30, 88.0};
    uint64_t u;
    if (k < 12) return v[k];
    u = k == 12 ? 0x7ff8000000000000ull : k == 13 ? 0xfff8000000000000ull
        : k == 14 ? 0x7ff8000000000123ull : 0xfff8000000000456ull;
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* rows of C values: every pair of edge values for C = 2, a walk through them otherwise */
#define FILL(T, x, R, C)                                                                   \
    for (Py_ssize_t r = 0; r < (R); r++)                                                   \
        for (Py_ssize_t c = 0; c < (C); c++)                                               \
            (x)[r * (C) + c] = (T)((C) == 2 ? edge(c == 0 ? r % NE : r / NE)               \
                                            : edge((int)((r * 7 + c * 5 + c * r) % NE)));
/* probabilities from the same walk: |v| clipped to [0, 1], NaNs kept */
#define PROB(T, p, x, n)                                                                   \
    for (Py_ssize_t i = 0; i < (n); i++) {                                                 \
        const T v = (x)[i] < 0 ? -(x)[i] : (x)[i];                                         \
        (p)[i] = v != v ? (x)[i] : v > 1 ? (T)1 : v;                                       \
    }

/* the rows' values as the row driver writes them (rows_finish), then the gradient */
#define MIX_ROWS(T, DT, R, n)                                                              \
    KERNEL(rows_finish, DT)((R), NULL, loss, 1.0, (char *)out, sizeof(T), NULL, xs);       \
    mix(out, (R) * sizeof(T));                                                             \
    mix(g, (n) * sizeof(T));

#define RUN(T, DT)                                                                         \
    {                                                                                      \
        static T x[MAXR * MAXC], t[MAXR * MAXC], p[MAXR * MAXC], q[MAXR * MAXC];           \
        static T g[MAXR * MAXC], z[MAXR * MAXC], out[MAXR * MAXC];                         \
        static double loss[MAXR], gsc[MAXR], work[11 * MAXR + 4 * MAXR * MAXC];            \
        static double xs[FE_XBLOCK];                                                       \
        static Py_ssize_t lab[MAXR];                                                       \
        const Py_ssize_t Cs[] = {2, 3, 10, 17};     /* R = 67: vectors of rows, a tail */  \
        int bad = 0;                                                                       \
        for (int ci = 0; ci < 4; ci++) {                                                   \
            const Py_ssize_t C = Cs[ci], R = C == 2 ? NE * NE : 67, n = R * C;             \
            FILL(T, x, R, C)                                                               \
            PROB(T, p, x, n)                                                               \
            for (Py_ssize_t i = 0; i < n; i++) { t[i] = (T)(1.0 / (double)C);              \
                                                 q[i] = p[(i + C) % n]; }                  \
            for (Py_ssize_t r = 0; r < R; r++) { lab[r] = r % 5 == 4 ? -1 : r % C;         \
                                                 gsc[r] = 0.25; }                          \
            for (int form = 0; form < 2; form++) {  /* labels, probabilities */            \
                KERNEL(softmax_block, DT)(R, C, x, form ? NULL : lab, form ? t : NULL,     \
                                          NULL, (double)C, 0.0, g, gsc, loss, z, work,     \
                                          NULL, &bad, NULL, 0);                            \
                MIX_ROWS(T, DT, R, n)                                                      \
            }                                                                              \
            for (int kind = 0; kind < 4; kind++) {  /* xent, KL, entropy, JS */            \
                KERNEL(div_block, DT)(kind, R, C, q, p, 1e-7, 0.3, g, gsc, loss, z,        \
                                      work, &bad);                                         \
                MIX_ROWS(T, DT, R, n)                                                      \
            }                                                                              \
            for (int kind = 0; kind < 2; kind++) {  /* KL, JS from logits */               \
                KERNEL(divlogits_block, DT)(kind, R, C, x, x + C, 2.0, 0.3, g, gsc,        \
                                            loss, z, work);                                \
                MIX_ROWS(T, DT, R - 1, n - C)                                              \
            }                                                                              \
            for (int mode = 0; mode < 5; mode++) {  /* the elementwise functions */        \
                const fe_bparams prm = {mode, 1e-7, 1.0 - 1e-7, -100.0, 0.0, 1.0, 0.5};    \
                KERNEL(bce, DT)(n, p, mode == FE_BCE_LOGITS ? x : q, NULL, NULL, out,      \
                                g, &prm, &bad, NULL, NULL, xs);                            \
                mix(out, n * sizeof(T));                                                   \
                mix(g, n * sizeof(T));                                                     \
            }                                                                              \
        }                                                                                  \
    }

int main(void)
{
    RUN(float, f32)
    RUN(double, f64)
    printf("%016llx\n", (unsigned long long)h);
    return 0;
}
