// Float32 matrix products and transposes on tfjs-backend-wasm's heap, for Node (see src/native-kernels.ts).
// Built on first use with the machine's g++ (-O3 -march=native) into a cached .node file; when it cannot be
// built or loaded, the wasm backend keeps its own kernels. Plain N-API (C), no node-gyp, no dependencies.
//
// gemm: C[b] = op(A[b]) op(B[b]) (+ bias), op = identity or transpose, row-major, offsets in bytes into one
// ArrayBuffer (the wasm heap). BLIS-style: B packed in KC x NR strips, A in MR x KC strips, an MR x NR
// register-tile micro-kernel written with GCC vector extensions (AVX-512, AVX2 or SSE by -march).
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <stdio.h>
#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif

#if defined(__AVX512F__)
#define VW 16
#elif defined(__AVX__)
#define VW 8
#else
#define VW 4
#endif
typedef float vf __attribute__((vector_size(VW * 4), aligned(4)));
typedef float vfa __attribute__((vector_size(VW * 4)));
typedef int32_t vi __attribute__((vector_size(VW * 4)));

#define MR 6
#define NR (2 * VW)
#define KC 256
#define MC 72
#define NC 4096

static thread_local float* bpack = nullptr;
static thread_local float* apack = nullptr;

static inline void pack_b(const float* B, long ldb, bool tb, long k0, long kc, long j0, long nc, float* dst) {
  // strips of NR columns, each kc rows: dst[strip][p][0..NR)
  for (long js = 0; js < nc; js += NR) {
    long w = nc - js < NR ? nc - js : NR;
    for (long p = 0; p < kc; p++) {
      float* d = dst + js * kc + p * NR;
      if (!tb) {
        const float* s = B + (k0 + p) * ldb + j0 + js;
        long j = 0;
        for (; j < w; j++) d[j] = s[j];
        for (; j < NR; j++) d[j] = 0;
      } else {
        long j = 0;
        for (; j < w; j++) d[j] = B[(j0 + js + j) * ldb + k0 + p];
        for (; j < NR; j++) d[j] = 0;
      }
    }
  }
}

static inline void pack_a(const float* A, long lda, bool ta, long i0, long mc, long k0, long kc, float* dst) {
  // strips of MR rows: dst[strip][p][0..MR)
  for (long is = 0; is < mc; is += MR) {
    long h = mc - is < MR ? mc - is : MR;
    float* d = dst + is * kc;
    if (!ta) {
      for (long p = 0; p < kc; p++) {
        long i = 0;
        for (; i < h; i++) d[p * MR + i] = A[(i0 + is + i) * lda + k0 + p];
        for (; i < MR; i++) d[p * MR + i] = 0;
      }
    } else {
      for (long p = 0; p < kc; p++) {
        const float* s = A + (k0 + p) * lda + i0 + is;
        long i = 0;
        for (; i < h; i++) d[p * MR + i] = s[i];
        for (; i < MR; i++) d[p * MR + i] = 0;
      }
    }
  }
}

// acc = (first ? 0 : C) + a b over kc; store h x w of the tile into C.
static inline void kernel(long kc, const float* a, const float* b, float* C, long ldc, long h, long w, bool first) {
  vfa c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {}, c30 = {}, c31 = {}, c40 = {}, c41 = {}, c50 = {},
      c51 = {};
  for (long p = 0; p < kc; p++) {
    vfa b0 = *(const vfa*)(b + p * NR);
    vfa b1 = *(const vfa*)(b + p * NR + VW);
    const float* ap = a + p * MR;
    vfa a0 = (vfa){} + ap[0], a1 = (vfa){} + ap[1], a2 = (vfa){} + ap[2];
    c00 += a0 * b0; c01 += a0 * b1;
    c10 += a1 * b0; c11 += a1 * b1;
    c20 += a2 * b0; c21 += a2 * b1;
    vfa a3 = (vfa){} + ap[3], a4 = (vfa){} + ap[4], a5 = (vfa){} + ap[5];
    c30 += a3 * b0; c31 += a3 * b1;
    c40 += a4 * b0; c41 += a4 * b1;
    c50 += a5 * b0; c51 += a5 * b1;
  }
  vfa rows[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (h == MR && w == NR) {
    for (long i = 0; i < MR; i++) {
      vf* d0 = (vf*)(C + i * ldc);
      vf* d1 = (vf*)(C + i * ldc + VW);
      if (first) { *d0 = rows[i][0]; *d1 = rows[i][1]; }
      else { *d0 += rows[i][0]; *d1 += rows[i][1]; }
    }
    return;
  }
  for (long i = 0; i < h; i++) {
    const float* r = (const float*)&rows[i][0];
    for (long j = 0; j < w; j++) C[i * ldc + j] = first ? r[j] : C[i * ldc + j] + r[j];
  }
}

static void gemm1(const float* A, bool ta, const float* B, bool tb, float* C, const float* bias, long m, long n, long k) {
  long lda = ta ? m : k, ldb = tb ? k : n;
  if (k == 0) {
    for (long i = 0; i < m; i++)
      for (long j = 0; j < n; j++) C[i * n + j] = bias ? bias[j] : 0.f;
    return;
  }
  for (long j0 = 0; j0 < n; j0 += NC) {
    long nc = n - j0 < NC ? n - j0 : NC;
    for (long k0 = 0; k0 < k; k0 += KC) {
      long kc = k - k0 < KC ? k - k0 : KC;
      pack_b(B, ldb, tb, k0, kc, j0, nc, bpack);
      for (long i0 = 0; i0 < m; i0 += MC) {
        long mc = m - i0 < MC ? m - i0 : MC;
        pack_a(A, lda, ta, i0, mc, k0, kc, apack);
        for (long js = 0; js < nc; js += NR) {
          long w = nc - js < NR ? nc - js : NR;
          for (long is = 0; is < mc; is += MR) {
            long h = mc - is < MR ? mc - is : MR;
            kernel(kc, apack + is * kc, bpack + js * kc, C + (i0 + is) * n + j0 + js, n, h, w, k0 == 0);
          }
        }
      }
    }
  }
  if (bias)
    for (long i = 0; i < m; i++)
      for (long j = 0; j < n; j++) C[i * n + j] += bias[j];
}

static bool ensure_buffers() {
  if (!bpack) bpack = (float*)aligned_alloc(64, sizeof(float) * KC * (NC + NR));
  if (!apack) apack = (float*)aligned_alloc(64, sizeof(float) * KC * (MC + MR));
  return bpack && apack;
}

static napi_value fail(napi_env env, const char* msg) {
  napi_throw_error(env, nullptr, msg);
  return nullptr;
}

// gemm(heap, batch, m, n, k, aOff, aStride, transA, bOff, bStride, transB, cOff, biasOff): offsets in bytes,
// batch strides in elements (0: the same matrix for every batch item); biasOff < 0: no bias.
static napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc != 13) return fail(env, "gemm: 13 arguments");
  void* data;
  size_t len;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) return fail(env, "gemm: heap must be an ArrayBuffer");
  double v[12];
  for (int i = 0; i < 12; i++) napi_get_value_double(env, argv[i + 1], &v[i]);
  long batch = (long)v[0], m = (long)v[1], n = (long)v[2], k = (long)v[3];
  long aOff = (long)v[4], aStride = (long)v[5], bOff = (long)v[7], bStride = (long)v[8], cOff = (long)v[10];
  bool ta = v[6] != 0, tb = v[9] != 0;
  long biasOff = (long)v[11];
  if (batch < 1 || m < 0 || n < 0 || k < 0 || aOff < 0 || bOff < 0 || cOff < 0 || aStride < 0 || bStride < 0)
    return fail(env, "gemm: bad sizes");
  size_t need_a = aOff + 4 * (size_t)((batch - 1) * aStride + m * k);
  size_t need_b = bOff + 4 * (size_t)((batch - 1) * bStride + k * n);
  size_t need_c = cOff + 4 * (size_t)(batch * m * n);
  if (need_a > len || need_b > len || need_c > len || (biasOff >= 0 && biasOff + 4 * (size_t)n > len))
    return fail(env, "gemm: operand outside the heap");
  if (!ensure_buffers()) return fail(env, "gemm: out of memory");
  char* heap = (char*)data;
  for (long b = 0; b < batch; b++) {
    const float* A = (const float*)(heap + aOff) + b * aStride;
    const float* B = (const float*)(heap + bOff) + b * bStride;
    float* C = (float*)(heap + cOff) + b * m * n;
    gemm1(A, ta, B, tb, C, biasOff >= 0 ? (const float*)(heap + biasOff) : nullptr, m, n, k);
  }
  return nullptr;
}

// transpose(heap, srcOff, dstOff, outer, rows, cols, inner): [outer, rows, cols, inner] -> [outer, cols, rows, inner].
static napi_value Transpose(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc != 7) return fail(env, "transpose: 7 arguments");
  void* data;
  size_t len;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) return fail(env, "transpose: heap must be an ArrayBuffer");
  double v[6];
  for (int i = 0; i < 6; i++) napi_get_value_double(env, argv[i + 1], &v[i]);
  size_t total = 4 * (size_t)((long)v[2] * (long)v[3] * (long)v[4] * (long)v[5]);
  if (v[0] < 0 || v[1] < 0 || (size_t)v[0] + total > len || (size_t)v[1] + total > len)
    return fail(env, "transpose: operand outside the heap");
  const float* src = (const float*)((char*)data + (long)v[0]);
  float* dst = (float*)((char*)data + (long)v[1]);
  long outer = (long)v[2], rows = (long)v[3], cols = (long)v[4], inner = (long)v[5];
  const long T = 32;
  for (long o = 0; o < outer; o++) {
    const float* s = src + o * rows * cols * inner;
    float* d = dst + o * rows * cols * inner;
    if (inner == 1) {
      for (long r0 = 0; r0 < rows; r0 += T)
        for (long c0 = 0; c0 < cols; c0 += T) {
          long r1 = r0 + T < rows ? r0 + T : rows, c1 = c0 + T < cols ? c0 + T : cols;
          for (long c = c0; c < c1; c++)
            for (long r = r0; r < r1; r++) d[c * rows + r] = s[r * cols + c];
        }
    } else {
      for (long r = 0; r < rows; r++)
        for (long c = 0; c < cols; c++) memcpy(d + (c * rows + r) * inner, s + (r * cols + c) * inner, inner * 4);
    }
  }
  return nullptr;
}


// GPT-2's tanh GELU as ops.ts writes it, y = x σ(x (A + B x²)), and its gradient
// dx = dy (s + x s (1 - s) (A + 3 B x²)), s = σ(x (A + B x²)), one pass each instead of 6 and 11 kernels.
// exp by range reduction (x = n ln2 + r) and a degree-6 polynomial: within 2 ulp of expf over [-87, 88].
static inline vfa vexp(vfa x) {
  const vfa hi = (vfa){} + 88.0f, lo = (vfa){} - 87.0f;
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  vfa n = x * 1.44269504088896341f;
  n = __builtin_convertvector(__builtin_convertvector(n + (n >= 0 ? 0.5f : -0.5f), vi), vfa);
  vfa r = x - n * 0.693359375f + n * 2.12194440e-4f;
  vfa p = (vfa){} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  vi e = (__builtin_convertvector(n, vi) + 127) << 23;
  vfa scale;
  memcpy(&scale, &e, sizeof(scale));
  return p * scale;
}

static const float GELU_A = 1.5957691216057308f;  // 2 sqrt(2 / pi)
static const float GELU_B = 1.5957691216057308f * 0.044715f;

static void gelu(const float* x, const float* dy, float* out, long n) {
  long i = 0;
  for (; i + VW <= n; i += VW) {
    vfa xv;
    memcpy(&xv, x + i, sizeof(xv));
    vfa x2 = xv * xv;
    vfa s = 1.0f / (1.0f + vexp(-(xv * (x2 * GELU_B + GELU_A))));
    vfa r;
    if (dy) {
      vfa d;
      memcpy(&d, dy + i, sizeof(d));
      r = d * (s + xv * (s - s * s) * (x2 * (3 * GELU_B) + GELU_A));
    } else {
      r = xv * s;
    }
    memcpy(out + i, &r, sizeof(r));
  }
  for (; i < n; i++) {
    float xs = x[i], x2 = xs * xs;
    float s = 1.0f / (1.0f + expf(-(xs * (x2 * GELU_B + GELU_A))));
    out[i] = dy ? dy[i] * (s + xs * (s - s * s) * (x2 * (3 * GELU_B) + GELU_A)) : xs * s;
  }
}

// gelu(heap, xOff, dyOff, outOff, n): the forward value (dyOff < 0) or the gradient.
static napi_value Gelu(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc != 5) return fail(env, "gelu: 5 arguments");
  void* data;
  size_t len;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) return fail(env, "gelu: heap must be an ArrayBuffer");
  double v[4];
  for (int i = 0; i < 4; i++) napi_get_value_double(env, argv[i + 1], &v[i]);
  long n = (long)v[3];
  size_t bytes = 4 * (size_t)n;
  if (n < 0 || v[0] < 0 || v[2] < 0 || (size_t)v[0] + bytes > len || (size_t)v[2] + bytes > len ||
      (v[1] >= 0 && (size_t)v[1] + bytes > len))
    return fail(env, "gelu: operand outside the heap");
  char* heap = (char*)data;
  gelu((const float*)(heap + (long)v[0]), v[1] >= 0 ? (const float*)(heap + (long)v[1]) : nullptr,
       (float*)(heap + (long)v[2]), n);
  return nullptr;
}

// Layer norm over rows of d: forward y = x̂ γ + β with x̂ = (x - μ) rstd, rstd = 1/sqrt(σ² + eps), also
// writing x̂ and rstd for the backward pass; backward dx = rstd (g - mean(g) - x̂ mean(g x̂)) with g = dy γ,
// and dγ = Σ dy x̂, dβ = Σ dy over the rows. Sums in double, so they do not depend on the order much.
static void layer_norm(const float* x, const float* g, const float* b, float eps, float* y, float* xhat,
                       float* rstd, long rows, long d) {
  for (long r = 0; r < rows; r++) {
    const float* xr = x + r * d;
    double sum = 0;
    for (long j = 0; j < d; j++) sum += xr[j];
    float mean = (float)(sum / d);
    double sq = 0;
    for (long j = 0; j < d; j++) {
      float c = xr[j] - mean;
      sq += (double)c * c;
    }
    float rs = 1.0f / sqrtf((float)(sq / d) + eps);
    rstd[r] = rs;
    float* hr = xhat + r * d;
    float* yr = y + r * d;
    for (long j = 0; j < d; j++) {
      hr[j] = (xr[j] - mean) * rs;
      yr[j] = hr[j] * g[j] + b[j];
    }
  }
}

static void layer_norm_grad(const float* dy, const float* xhat, const float* rstd, const float* g, float* dx,
                            float* dg, float* db, long rows, long d) {
  double* sg = (double*)calloc(2 * d, sizeof(double));
  for (long r = 0; r < rows; r++) {
    const float* dr = dy + r * d;
    const float* hr = xhat + r * d;
    double s1 = 0, s2 = 0;
    for (long j = 0; j < d; j++) {
      float gd = dr[j] * g[j];
      s1 += gd;
      s2 += (double)gd * hr[j];
      sg[j] += (double)dr[j] * hr[j];
      sg[d + j] += dr[j];
    }
    float m1 = (float)(s1 / d), m2 = (float)(s2 / d), rs = rstd[r];
    float* xr = dx + r * d;
    for (long j = 0; j < d; j++) xr[j] = rs * (dr[j] * g[j] - m1 - hr[j] * m2);
  }
  for (long j = 0; j < d; j++) {
    dg[j] = (float)sg[j];
    db[j] = (float)sg[d + j];
  }
  free(sg);
}

static bool read_args(napi_env env, napi_callback_info info, size_t want, char** heap, size_t* len, double* v) {
  napi_value argv[16];
  size_t argc = 16;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* data;
  if (argc != want || napi_get_arraybuffer_info(env, argv[0], &data, len) != napi_ok) return false;
  for (size_t i = 1; i < want; i++) napi_get_value_double(env, argv[i], &v[i - 1]);
  *heap = (char*)data;
  return true;
}

static bool inside(double off, size_t bytes, size_t len) { return off >= 0 && (size_t)off + bytes <= len; }

// layerNorm(heap, xOff, gOff, bOff, eps, yOff, xhatOff, rstdOff, rows, d)
static napi_value LayerNorm(napi_env env, napi_callback_info info) {
  char* heap;
  size_t len;
  double v[9];
  if (!read_args(env, info, 10, &heap, &len, v)) return fail(env, "layerNorm: bad arguments");
  long rows = (long)v[7], d = (long)v[8];
  size_t all = 4 * (size_t)(rows * d), row = 4 * (size_t)d;
  if (rows < 0 || d < 1 || !inside(v[0], all, len) || !inside(v[1], row, len) || !inside(v[2], row, len) ||
      !inside(v[4], all, len) || !inside(v[5], all, len) || !inside(v[6], 4 * (size_t)rows, len))
    return fail(env, "layerNorm: operand outside the heap");
  layer_norm((const float*)(heap + (long)v[0]), (const float*)(heap + (long)v[1]), (const float*)(heap + (long)v[2]),
             (float)v[3], (float*)(heap + (long)v[4]), (float*)(heap + (long)v[5]), (float*)(heap + (long)v[6]), rows, d);
  return nullptr;
}

// layerNormGrad(heap, dyOff, xhatOff, rstdOff, gOff, dxOff, dgOff, dbOff, rows, d)
static napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  char* heap;
  size_t len;
  double v[9];
  if (!read_args(env, info, 10, &heap, &len, v)) return fail(env, "layerNormGrad: bad arguments");
  long rows = (long)v[7], d = (long)v[8];
  size_t all = 4 * (size_t)(rows * d), row = 4 * (size_t)d;
  if (rows < 0 || d < 1 || !inside(v[0], all, len) || !inside(v[1], all, len) || !inside(v[2], 4 * (size_t)rows, len) ||
      !inside(v[3], row, len) || !inside(v[4], all, len) || !inside(v[5], row, len) || !inside(v[6], row, len))
    return fail(env, "layerNormGrad: operand outside the heap");
  layer_norm_grad((const float*)(heap + (long)v[0]), (const float*)(heap + (long)v[1]), (const float*)(heap + (long)v[2]),
                  (const float*)(heap + (long)v[3]), (float*)(heap + (long)v[4]), (float*)(heap + (long)v[5]),
                  (float*)(heap + (long)v[6]), rows, d);
  return nullptr;
}

// What the compiler built this file for, as far as it decides the float results: the architecture, the
// widest vector instructions (the micro-kernel's width, hence the summation order), whether a*b+c is fused
// (FMA: one rounding instead of two), the compiler, NUMERICS, the revision of this file's order of operations
// (raise it with any change to what the kernels compute), and at load time the C library (expf in GELU's tail).
// Two builds with the same target compute the same bits; compressed files record it (src/compress).
#define NUMERICS 1
#define STR2(x) #x
#define STR(x) STR2(x)
static const char TARGET[] =
#if defined(__x86_64__)
    "x86-64"
#elif defined(__aarch64__)
    "aarch64"
#else
    "other-arch"
#endif
#if defined(__AVX512F__)
    " avx512f"
#elif defined(__AVX2__)
    " avx2"
#elif defined(__AVX__)
    " avx"
#elif defined(__ARM_NEON)
    " neon"
#else
    " sse"
#endif
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
    " fma"
#else
    " no-fma"
#endif
#if defined(__clang__)
    " clang-" STR(__clang_major__) "." STR(__clang_minor__) "." STR(__clang_patchlevel__)
#elif defined(__GNUC__)
    " gcc-" STR(__GNUC__) "." STR(__GNUC_MINOR__) "." STR(__GNUC_PATCHLEVEL__)
#endif
    ;

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "gemm", NAPI_AUTO_LENGTH, Gemm, nullptr, &fn);
  napi_set_named_property(env, exports, "gemm", fn);
  napi_create_function(env, "transpose", NAPI_AUTO_LENGTH, Transpose, nullptr, &fn);
  napi_set_named_property(env, exports, "transpose", fn);
  napi_create_function(env, "gelu", NAPI_AUTO_LENGTH, Gelu, nullptr, &fn);
  napi_set_named_property(env, exports, "gelu", fn);
  napi_create_function(env, "layerNorm", NAPI_AUTO_LENGTH, LayerNorm, nullptr, &fn);
  napi_set_named_property(env, exports, "layerNorm", fn);
  napi_create_function(env, "layerNormGrad", NAPI_AUTO_LENGTH, LayerNormGrad, nullptr, &fn);
  napi_set_named_property(env, exports, "layerNormGrad", fn);
  napi_value w;
  napi_create_int32(env, VW, &w);
  napi_set_named_property(env, exports, "vectorWidth", w);
  // The C library the process runs with (expf's last bits are its), read at load time: an upgrade of it does
  // not rebuild the addon.
  char described[256];
#if defined(__GLIBC__)
  snprintf(described, sizeof described, "%s glibc-%s r%d", TARGET, gnu_get_libc_version(), NUMERICS);
#else
  snprintf(described, sizeof described, "%s r%d", TARGET, NUMERICS);
#endif
  napi_value target;
  napi_create_string_utf8(env, described, NAPI_AUTO_LENGTH, &target);
  napi_set_named_property(env, exports, "target", target);
  return exports;
}
