/* fe_template_dtypes.h -- FE_TEMPLATE for float, then for double (see fe_template.h). */
#define REAL float
#define FE_DT f32
#define EXP fe_expf
#include FE_TEMPLATE
#undef REAL
#undef FE_DT
#undef EXP

#define REAL double
#define FE_DT f64
#define EXP fe_exp
#include FE_TEMPLATE
#undef REAL
#undef FE_DT
#undef EXP
