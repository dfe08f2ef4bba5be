// AVX2 + FMA + F16C kernels (Haswell / Zen and later): 6×16 register tile, 12 of the 16 ymm registers accumulate.
#include <immintrin.h>
#include <cstdint>
#include <cstring>
#include "gemm.h"
#pragma GCC target("avx2,fma,f16c")
#define VW 8
#define MR 6
#define NV 2
#define ISA isaAvx2
#define ISA_NAME "avx2"
typedef float V __attribute__((vector_size(32), aligned(4)));
static inline V loadF16(const uint16_t* p) {
  return (V)_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
// unaligned vector moves as single instructions (GCC's generic tuning splits a memcpy'd 256-bit move in two
// 128-bit halves, and the micro-kernel then stalls on store forwarding)
static inline V loadV(const float* p) { return (V)_mm256_loadu_ps(p); }
static inline void storeV(float* p, V v) { _mm256_storeu_ps(p, (__m256)v); }
/** r[0..7] ← its transpose (8×8): unpack pairs, shuffle pairs of pairs, then swap 128-bit halves. */
static inline void transposeVW(V* r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps((__m256)r[i], (__m256)r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps((__m256)r[i], (__m256)r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {  // u[i + q]: column q of each 128-bit half, rows i..i+3
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int q = 0; q < 4; q++) {
    r[q] = (V)_mm256_permute2f128_ps(u[q], u[4 + q], 0x20);
    r[4 + q] = (V)_mm256_permute2f128_ps(u[q], u[4 + q], 0x31);
  }
}
#include "gemm-impl.h"
