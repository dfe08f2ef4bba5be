// AVX-512 kernels (Zen 4, Skylake-X and later): 12×32 register tile, 24 of the 32 zmm registers accumulate.
#include <immintrin.h>
#include <cstdint>
#include <cstring>
#include "gemm.h"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")
#define VW 16
#define MR 12
#define NV 2
#define ISA isaAvx512
#define ISA_NAME "avx512"
typedef float V __attribute__((vector_size(64), aligned(4)));
static inline V loadF16(const uint16_t* p) {
  return (V)_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
// unaligned vector moves as single instructions (GCC's generic tuning splits a memcpy'd 256-bit move in two
// 128-bit halves, and the micro-kernel then stalls on store forwarding)
static inline V loadV(const float* p) { return (V)_mm512_loadu_ps(p); }
static inline void storeV(float* p, V v) { _mm512_storeu_ps(p, (__m512)v); }
/** r[0..15] ← its transpose (16×16): unpack pairs, then pairs of pairs, then 128-bit lanes across registers. */
static inline void transposeVW(V* r) {
  __m512 t[16];
  __m512d u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps((__m512)r[i], (__m512)r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps((__m512)r[i], (__m512)r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // u[i + q]: column q of each 128-bit lane, rows i..i+3
    __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]), c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    u[i] = _mm512_unpacklo_pd(a, c);
    u[i + 1] = _mm512_unpackhi_pd(a, c);
    u[i + 2] = _mm512_unpacklo_pd(b, d);
    u[i + 3] = _mm512_unpackhi_pd(b, d);
  }
  for (int q = 0; q < 4; q++) {
    __m512 u0 = _mm512_castpd_ps(u[q]), u4 = _mm512_castpd_ps(u[4 + q]), u8 = _mm512_castpd_ps(u[8 + q]), u12 = _mm512_castpd_ps(u[12 + q]);
    __m512 v0 = _mm512_shuffle_f32x4(u0, u4, 0x88), v1 = _mm512_shuffle_f32x4(u0, u4, 0xDD);
    __m512 v2 = _mm512_shuffle_f32x4(u8, u12, 0x88), v3 = _mm512_shuffle_f32x4(u8, u12, 0xDD);
    r[q] = (V)_mm512_shuffle_f32x4(v0, v2, 0x88);
    r[4 + q] = (V)_mm512_shuffle_f32x4(v1, v3, 0x88);
    r[8 + q] = (V)_mm512_shuffle_f32x4(v0, v2, 0xDD);
    r[12 + q] = (V)_mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}
#include "gemm-impl.h"
