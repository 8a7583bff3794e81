/*
 * expnormal.c -- exp of the normal range (fe_expf_normal, fe_exp_normal: no clamp, no NaN
 * test, one scaling) against the general exp (fe_expf_nonpos, fe_exp_nonpos): the same
 * bits for every float in [FE_EXPF_NORMAL_MIN, 0] (all 1.1e9 of them) and for 2e8 doubles
 * of [FE_EXP_NORMAL_MIN, 0] (uniform on three scales) and its ends.  Exit status 1 on any
 * difference.  Run by run.sh.
 */
#include <stdio.h>
#include <stdint.h>
#include "fe_math.h"

int main(void)
{
    long nf = 0, badf = 0, badd = 0, i;
    const uint32_t hi = fe_f2u(FE_EXPF_NORMAL_MIN);
    for (uint32_t u = fe_f2u(-0.0f); u <= hi; u++, nf++) {      /* -0 ... the range's end */
        const float x = fe_u2f(u);
        if (fe_f2u(fe_expf_nonpos(x)) != fe_f2u(fe_expf_normal(x)) && badf++ < 5)
            printf("float %a: %a, normal form %a\n", x, fe_expf_nonpos(x), fe_expf_normal(x));
    }
    badf += fe_f2u(fe_expf_nonpos(0.0f)) != fe_f2u(fe_expf_normal(0.0f));
    uint64_t s = 88172645463325252ull;                         /* xorshift64 */
    for (i = 0; i < 200000000; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        const double scale = i % 3 == 0 ? -FE_EXP_NORMAL_MIN : i % 3 == 1 ? 50.0 : 1.0;
        const double x = -(double)(s >> 11) * 0x1p-53 * scale;
        if (fe_d2u(fe_exp_nonpos(x)) != fe_d2u(fe_exp_normal(x)) && badd++ < 5)
            printf("double %a: %a, normal form %a\n", x, fe_exp_nonpos(x), fe_exp_normal(x));
    }
    const double ends[] = {FE_EXP_NORMAL_MIN, -0.0, 0.0, -0x1p-1074};
    for (i = 0; i < 4; i++)
        badd += fe_d2u(fe_exp_nonpos(ends[i])) != fe_d2u(fe_exp_normal(ends[i]));
    printf("  exp of the normal range: %ld floats, %ld differ; 2e8 doubles, %ld differ\n", nf,
           badf, badd);
    return badf || badd;
}
