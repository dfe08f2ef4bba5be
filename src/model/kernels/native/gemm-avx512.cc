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
#include "gemm-impl.h"
