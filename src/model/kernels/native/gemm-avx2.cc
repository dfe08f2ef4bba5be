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
#include "gemm-impl.h"
