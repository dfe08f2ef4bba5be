// Portable kernels for any CPU (128-bit generic vectors: SSE2 on x86-64, NEON on arm64, scalar elsewhere).
#include <cstdint>
#include <cstring>
#include "gemm.h"
#define VW 4
#define MR 4
#define NV 2
#define ISA isaPortable
#define ISA_NAME "portable"
typedef float V __attribute__((vector_size(16), aligned(4)));
static inline V loadF16(const uint16_t* p) {
  V v;
  for (int t = 0; t < VW; t++) v[t] = causalmm::f16ToF32(p[t]);
  return v;
}
#include "gemm-impl.h"
