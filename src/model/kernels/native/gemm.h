// The addon's shared declarations: one GEMM problem and the per-ISA entry points (gemm-impl.h compiled three
// times: AVX-512, AVX2+FMA+F16C, portable).
#pragma once
#include <cstddef>
#include <cstdint>

namespace causalmm {

enum Dtype { F32 = 0, F16 = 1, BF16 = 2 };

/** C[M,N] = A[M,K]·B (+bias[N]). B is [K,N] row-major ("in,out") or, transposed, [N,K] ("out,in"). */
struct Problem {
  const float* a;
  const void* b;
  const float* bias;  // may be null
  float* c;
  long M, N, K;
  Dtype dtype;
  bool transposed;
};

/** One ISA's kernels over the column range [n0, n1) of C (n0 a multiple of `nAlign`). */
struct Isa {
  const char* name;
  long nAlign;
  long (*scratchFloats)(long M);
  void (*gemm)(const Problem&, long n0, long n1, float* scratch);
  void (*gemv)(const Problem&, long n0, long n1);
};

extern const Isa isaAvx512;
extern const Isa isaAvx2;
extern const Isa isaPortable;

float f16ToF32(uint16_t h);

}  // namespace causalmm
