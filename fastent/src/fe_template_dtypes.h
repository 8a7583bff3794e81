/* fe_template_dtypes.h -- FE_TEMPLATE for float, then for double (see fe_template.h). */
#define REAL float
#define FE_DT f32
#define EXP fe_expf
#define EXP_NONPOS fe_expf_nonpos
#define EXP_NORMAL fe_expf_normal     /* x in [EXP_NORMAL_MIN, 0]: fe_math.h */
#define EXP_NORMAL_MIN FE_EXPF_NORMAL_MIN
#define FE_XADD fe_xsum_add_f32
#include FE_TEMPLATE
#undef REAL
#undef FE_DT
#undef EXP
#undef EXP_NONPOS
#undef EXP_NORMAL
#undef EXP_NORMAL_MIN
#undef FE_XADD

#define REAL double
#define FE_DT f64
#define EXP fe_exp
#define EXP_NONPOS fe_exp_nonpos
#define EXP_NORMAL fe_exp_normal
#define EXP_NORMAL_MIN FE_EXP_NORMAL_MIN
#define FE_XADD fe_xsum_add_f64
#include FE_TEMPLATE
#undef REAL
#undef FE_DT
#undef EXP
#undef EXP_NONPOS
#undef EXP_NORMAL
#undef EXP_NORMAL_MIN
#undef FE_XADD
