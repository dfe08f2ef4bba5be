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

/**
 * One ISA's kernels. GEMM: packA fills A's MR-row panels [ip0, ip1) of the packed A (mr·ceil(M/mr)·K
 * floats, shared by the threads of a call), then gemm computes the column range [n0, n1) of C (n0 a
 * multiple of `nAlign`) with bPackFloats() floats of per-thread scratch. GEMV (M ≤ 4) reads A and B as they are.
 */
struct Isa {
  const char* name;
  long nAlign;
  long mr;
  long vectorFloats;
  long (*bPackFloats)();
  void (*packA)(const Problem&, long ip0, long ip1, float* aPack);
  void (*gemm)(const Problem&, long n0, long n1, const float* aPack, float* bPack);
  void (*gemv)(const Problem&, long n0, long n1);
  /** iters steps of 12 vector FMA chains in registers (the returned value keeps the loop alive). */
  float (*fmaPeak)(long iters);
};

extern const Isa isaAvx512;
extern const Isa isaAvx2;
extern const Isa isaPortable;

float f16ToF32(uint16_t h);

}  // namespace causalmm
