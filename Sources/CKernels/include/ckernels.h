#ifndef SNNA_CKERNELS_H
#define SNNA_CKERNELS_H
#include <stddef.h>

// Row-wise LayerNorm over `rows` rows of `cols` values (biased variance). Saves each row's mean and 1/sqrt(var+eps)
// so the backward can rebuild x-hat without keeping it.
void ck_layernorm_forward(const float *x, float *out, float *mean, float *rstd, const float *gamma, const float *beta,
                          long rows, long cols, float eps);

// dx (+)= rstd * (g' - mean(g') - xhat * mean(g' * xhat)), g' = dout * gamma. `accumulate` != 0 adds into dx.
void ck_layernorm_backward(const float *x, const float *mean, const float *rstd, const float *gamma, const float *dout,
                           float *dx, long rows, long cols, int accumulate);

// erf in float32 (max error 2e-7), the one GELU uses.
float ck_erff(float x);

// Exact-erf GELU: 0.5 x (1 + erf(x / sqrt 2)).
void ck_gelu_forward(const float *x, float *out, long n);
// dx = dout * (Phi(x) + x phi(x)).
void ck_gelu_backward(const float *x, const float *dout, float *dx, long n);

// In place: each row of s becomes softmax(scale * row). Rows are `cols` long with leading dimension `ld`.
void ck_softmax_rows(float *s, long rows, long cols, long ld, float scale);

// The softmax without its final division: each row becomes exp(scale * (row - max)) and inv_sums[r] receives
// 1 / its sum, so a following product can be scaled per row instead of normalising all N columns.
void ck_softmax_exp_rows(float *s, long rows, long cols, long ld, float scale, float *inv_sums);

// The softmax's exp, for x ≤ 0 (exposed for its accuracy test).
float ck_softmax_exp(float x);

// x[r, c] *= scale[r] for c < cols.
void ck_scale_rows(float *x, long rows, long cols, long ld, const float *scale);

// Softmax backward through one attention head, in place on g: g[i,j] <- a[i,j] * (g[i,j] - sum_k a[i,k] g[i,k]).
void ck_softmax_backward_rows(const float *a, float *g, long rows, long cols);

// For k weight vectors w_t (length rows): out_t[s] += sum_n w_t[n] * relu(a[n,s] * g[n,s]).
// One pass over the two N x N matrices serves every chain that needs them (reference §7.3 S1/S9).
void ck_relu_product_gemv(const float *a, const float *g, long rows, long cols, const float *const *weights,
                          float *const *outs, int k);

// out[i] += scale * x[i]
void ck_axpy(float *out, const float *x, float scale, long n);
// out[r, c] += bias[c]
void ck_add_bias_rows(float *out, const float *bias, long rows, long cols);
// x[r, c] *= scale[c]
void ck_scale_columns(float *x, const float *scale, long rows, long cols);

#endif
