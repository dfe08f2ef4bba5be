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
static inline V loadV(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
static inline void storeV(float* p, V v) { std::memcpy(p, &v, sizeof v); }
/** r[0..3] ← its transpose (4×4). */
static inline void transposeVW(V* r) {
  for (int i = 0; i < VW; i++)
    for (int j = i + 1; j < VW; j++) {
      float x = r[i][j];
      r[i][j] = r[j][i];
      r[j][i] = x;
    }
}
#include "gemm-impl.h"
