/* fe_template_dtypes.h -- FE_TEMPLATE for float, then for double (see fe_template.h). */
#define REAL float
#define FE_DT f32
#define LOG logf
#define LOG1P log1pf
#define EXP expf
#define FABS fabsf
#include FE_TEMPLATE
#undef REAL
#undef FE_DT
#undef LOG
#undef LOG1P
#undef EXP
#undef FABS

#define REAL double
#define FE_DT f64
#define LOG log
#define LOG1P log1p
#define EXP exp
#define FABS fabs
#include FE_TEMPLATE
#undef REAL
#undef FE_DT
#undef LOG
#undef LOG1P
#undef EXP
#undef FABS
