// The GEMM and GEMV kernels, written once over GCC vector extensions and compiled per ISA (gemm-avx512.cc,
// gemm-avx2.cc, gemm-portable.cc define V, VW, MR, NV, loadV, storeV, loadF16, transposeVW and ISA before including it).
// GEMM follows the BLIS/GotoBLAS scheme: for each NC-wide column block and KC-deep slice, B is packed into
// NR-wide micro-panels (16-bit weights widened exactly to float32 here) that stay in L2, A into MR-tall
// micro-panels; an MR×NR register tile accumulates KC rank-1 updates (broadcast A, FMA with B vectors).
// The A micro-panel stays in L1 while the B micro-panels stream past it. GEMV (a few rows: decode steps)
// reads B once, in its own dtype and layout, and is bound by memory bandwidth.
// No standard-library templates in here: inline functions instantiated under a target pragma could be
// shared with (and run on) machines without that ISA. Scratch memory comes from the caller (addon.cc).

namespace {

using causalmm::Problem;
constexpr long NR = NV * VW;
constexpr long KC = 256;
constexpr long NC = NR * 12;
typedef uint16_t U16V __attribute__((vector_size(VW * 2), aligned(2)));
typedef uint32_t U32V __attribute__((vector_size(VW * 4)));


inline V loadBf16(const uint16_t* p) {
  U16V h;
  std::memcpy(&h, p, sizeof h);
  U32V w = __builtin_convertvector(h, U32V) << 16;
  V v;
  std::memcpy(&v, &w, sizeof v);
  return v;
}

inline float bf16ToF32(uint16_t h) {
  uint32_t w = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &w, 4);
  return f;
}

/** Element (k, n) of B as float32. */
inline float bAt(const Problem& p, long k, long n) {
  long i = p.transposed ? n * p.K + k : k * p.N + n;
  if (p.dtype == causalmm::F32) return static_cast<const float*>(p.b)[i];
  uint16_t h = static_cast<const uint16_t*>(p.b)[i];
  return p.dtype == causalmm::F16 ? causalmm::f16ToF32(h) : bf16ToF32(h);
}

/** VW consecutive elements of B's storage starting at element index i, as float32. */
inline V loadB(const Problem& p, long i) {
  if (p.dtype == causalmm::F32) return loadV(static_cast<const float*>(p.b) + i);
  const uint16_t* h = static_cast<const uint16_t*>(p.b) + i;
  return p.dtype == causalmm::F16 ? loadF16(h) : loadBf16(h);
}

/** B[pc:pc+kc, j0:j0+nr] → dst [kc][NR], zero-padded to NR columns. */
void packB(const Problem& p, long pc, long kc, long j0, long nr, float* dst) {
  if (!p.transposed) {
    for (long k = 0; k < kc; k++) {
      float* d = dst + k * NR;
      long row = (pc + k) * p.N + j0;
      if (nr == NR) {
        for (long j = 0; j < NV; j++) storeV(d + j * VW, loadB(p, row + j * VW));
      } else {
        for (long j = 0; j < NR; j++) d[j] = j < nr ? bAt(p, pc + k, j0 + j) : 0.f;
      }
    }
    return;
  }
  // [N,K]: VW rows of B at a time, VW-long runs along k (contiguous) transposed in registers into VW
  // rows of the panel; the last < VW rows and < VW k one element at a time
  if (nr < NR) std::memset(dst, 0, sizeof(float) * kc * NR);
  long j = 0, kv = kc / VW * VW;
  for (; j + VW <= nr; j += VW) {
    const long row = (j0 + j) * p.K + pc;
    for (long k = 0; k < kv; k += VW) {
      V r[VW];
#pragma GCC unroll 16
      for (int t = 0; t < VW; t++) r[t] = loadB(p, row + t * p.K + k);
      transposeVW(r);
#pragma GCC unroll 16
      for (int t = 0; t < VW; t++) storeV(dst + (k + t) * NR + j, r[t]);
    }
    for (long t = 0; t < VW; t++)
      for (long k = kv; k < kc; k++) dst[k * NR + j + t] = bAt(p, pc + k, j0 + j + t);
  }
  for (; j < nr; j++)
    for (long k = 0; k < kc; k++) dst[k * NR + j] = bAt(p, pc + k, j0 + j);
}

/** A[i0:i0+mr, pc:pc+kc] → dst [kc][MR], zero-padded to MR rows. */
void packPanel(const Problem& p, long i0, long mr, long pc, long kc, float* dst) {
  const float* src = p.a + i0 * p.K + pc;
  if (mr == MR) {
    for (long k = 0; k < kc; k++)
#pragma GCC unroll 16
      for (int i = 0; i < MR; i++) dst[k * MR + i] = src[i * p.K + k];
    return;
  }
  for (long k = 0; k < kc; k++)
    for (long i = 0; i < MR; i++) dst[k * MR + i] = i < mr ? src[i * p.K + k] : 0.f;
}

/** Rows of packed A: M rounded up to whole MR panels. */
inline long mPadded(long M) { return (M + MR - 1) / MR * MR; }

/**
 * A's MR-row panels [ip0, ip1) into the packed A shared by every thread of a call: the KC-deep slice at pc
 * starts at pc·mPadded(M) and holds its panels one after the other, each [kc][MR]. A is packed once per
 * call (not once per column chunk), so its cost does not grow with N.
 */
void packA(const Problem& p, long ip0, long ip1, float* aPack) {
  long mPad = mPadded(p.M);
  for (long ip = ip0; ip < ip1; ip++) {
    long mr = p.M - ip * MR < MR ? p.M - ip * MR : MR;
    for (long pc = 0; pc < p.K; pc += KC) {
      long kc = p.K - pc < KC ? p.K - pc : KC;
      packPanel(p, ip * MR, mr, pc, kc, aPack + pc * mPad + ip * MR * kc);
    }
  }
}

/**
 * c[0:mr, 0:nr] (row stride ldc) = (first ? 0 : c) + a-panel · b-panel over kc, then + bias on the last slice.
 * Each element is one running FMA chain over k, whatever M, the tile or the thread: a row's result does
 * not depend on the rows batched with it (and equals the GEMV path's over [K,N] storage).
 */
inline void micro(long kc, const float* __restrict a, const float* __restrict b, float* c, long ldc, long mr, long nr,
                  const float* bias, bool first) {
  V acc[MR][NV];
  bool full = mr == MR && nr == NR;
  float tile[MR * NR];
  if (!full && !first) {
    for (long i = 0; i < mr; i++)
      for (long j = 0; j < nr; j++) tile[i * NR + j] = c[i * ldc + j];
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NV; j++) acc[i][j] = first ? V{} : full ? loadV(c + i * ldc + j * VW) : loadV(tile + i * NR + j * VW);
  for (long k = 0; k < kc; k++) {
    V bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; j++) bv[j] = loadV(b + k * NR + j * VW);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      float av = a[k * MR + i];
#pragma GCC unroll 4
      for (int j = 0; j < NV; j++) acc[i][j] += av * bv[j];
    }
  }
  if (full) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
      for (int j = 0; j < NV; j++) storeV(c + i * ldc + j * VW, bias ? acc[i][j] + loadV(bias + j * VW) : acc[i][j]);
    return;
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NV; j++) storeV(tile + i * NR + j * VW, acc[i][j]);
  for (long i = 0; i < mr; i++)
    for (long j = 0; j < nr; j++) c[i * ldc + j] = bias ? tile[i * NR + j] + bias[j] : tile[i * NR + j];
}

/** Floats of the per-thread scratch gemm() needs: one packed B block. */
long bPackFloats() { return NC * KC; }

/** C[:, n0:n1) from the packed A (packA over every panel) and B, packed here one NC×KC block at a time. */
void gemm(const Problem& p, long n0, long n1, const float* aPack, float* bPack) {
  long mPanels = (p.M + MR - 1) / MR, mPad = mPadded(p.M);
  for (long jc = n0; jc < n1; jc += NC) {
    long nc = n1 - jc < NC ? n1 - jc : NC;
    long nPanels = (nc + NR - 1) / NR;
    for (long pc = 0; pc < p.K; pc += KC) {
      long kc = p.K - pc < KC ? p.K - pc : KC;
      for (long jp = 0; jp < nPanels; jp++) {
        long nr = nc - jp * NR < NR ? nc - jp * NR : NR;
        packB(p, pc, kc, jc + jp * NR, nr, bPack + jp * NR * kc);
      }
      for (long ip = 0; ip < mPanels; ip++) {
        long mr = p.M - ip * MR < MR ? p.M - ip * MR : MR;
        const float* ap = aPack + pc * mPad + ip * MR * kc;
        for (long jp = 0; jp < nPanels; jp++) {
          long nr = nc - jp * NR < NR ? nc - jp * NR : NR;
          long col = jc + jp * NR;
          const float* bias = p.bias && pc + kc == p.K ? p.bias + col : nullptr;
          micro(kc, ap, bPack + jp * NR * kc, p.c + ip * MR * p.N + col, p.N, mr, nr, bias, pc == 0);
        }
      }
    }
  }
}

/** `iters` steps of 12 independent vector FMA chains (register-only): the ISA's arithmetic peak per thread. */
float fmaPeak(long iters) {
  V m, c, x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11;
  for (int i = 0; i < VW; i++) m[i] = 0.999f, c[i] = 0.001f, x0[i] = 1.f + i * 0.01f;
  x1 = x0 + c, x2 = x1 + c, x3 = x2 + c, x4 = x3 + c, x5 = x4 + c, x6 = x5 + c;
  x7 = x6 + c, x8 = x7 + c, x9 = x8 + c, x10 = x9 + c, x11 = x10 + c;
  for (long t = 0; t < iters; t++) {
    x0 = x0 * m + c, x1 = x1 * m + c, x2 = x2 * m + c, x3 = x3 * m + c, x4 = x4 * m + c, x5 = x5 * m + c;
    x6 = x6 * m + c, x7 = x7 * m + c, x8 = x8 * m + c, x9 = x9 * m + c, x10 = x10 * m + c, x11 = x11 * m + c;
  }
  V s = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11;
  return s[0];
}

inline float hsum(V v) {
  float l[VW], s = 0.f;
  storeV(l, v);
  for (int t = 0; t < VW; t++) s += l[t];
  return s;
}

/**
 * GEMV over [K,N] storage: B is streamed row by row (contiguous), 4 rows at a time, into accumulators for a
 * tile of TW columns × M ≤ 4 rows that stay in L1/L2. Each element is the same k-ordered FMA chain as gemm().
 */
template <int M>
void gemvInOut(const Problem& p, long n0, long n1) {
  constexpr long TW = 8192;
  float acc[M * TW];
  const float* x = p.a;
  for (long t0 = n0; t0 < n1; t0 += TW) {
    long tw = n1 - t0 < TW ? n1 - t0 : TW, vec = tw / VW * VW;
    for (long i = 0; i < M * TW; i++) acc[i] = 0.f;
    long k = 0;
    for (; k + 4 <= p.K; k += 4) {
      const long r = k * p.N + t0;
      for (long v = 0; v < vec; v += VW) {
        V w0 = loadB(p, r + v), w1 = loadB(p, r + p.N + v), w2 = loadB(p, r + 2 * p.N + v), w3 = loadB(p, r + 3 * p.N + v);
#pragma GCC unroll 4
        for (int m = 0; m < M; m++) {
          const float* xm = x + m * p.K + k;
          V y = loadV(acc + m * TW + v);
          y += xm[0] * w0;
          y += xm[1] * w1;
          y += xm[2] * w2;
          y += xm[3] * w3;
          storeV(acc + m * TW + v, y);
        }
      }
      for (long v = vec; v < tw; v++)
        for (int m = 0; m < M; m++)
          for (long kk = k; kk < k + 4; kk++) acc[m * TW + v] += x[m * p.K + kk] * bAt(p, kk, t0 + v);
    }
    for (; k < p.K; k++)
      for (long v = 0; v < tw; v++)
        for (int m = 0; m < M; m++) acc[m * TW + v] += x[m * p.K + k] * bAt(p, k, t0 + v);
    for (int m = 0; m < M; m++)
      for (long v = 0; v < tw; v++) p.c[m * p.N + t0 + v] = p.bias ? acc[m * TW + v] + p.bias[t0 + v] : acc[m * TW + v];
  }
}

/** GEMV over [N,K] storage: 4 rows of B at a time, dotted with all M ≤ 4 rows of A along k. */
template <int M>
void gemvOutIn(const Problem& p, long n0, long n1) {
  constexpr int R = 4;
  for (long n = n0; n < n1; n += R) {
    int rows = n1 - n < R ? int(n1 - n) : R;
    V acc[M][R] = {};
    long k = 0;
    if (rows == R) {
      for (; k + VW <= p.K; k += VW) {
        V bv[R];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) bv[r] = loadB(p, (n + r) * p.K + k);
#pragma GCC unroll 4
        for (int m = 0; m < M; m++) {
          V av = loadV(p.a + m * p.K + k);
#pragma GCC unroll 4
          for (int r = 0; r < R; r++) acc[m][r] += av * bv[r];
        }
      }
    }
    for (int m = 0; m < M; m++)
      for (int r = 0; r < rows; r++) {
        float s = hsum(acc[m][r]);
        for (long kk = k; kk < p.K; kk++) s += p.a[m * p.K + kk] * bAt(p, kk, n + r);
        p.c[m * p.N + n + r] = s + (p.bias ? p.bias[n + r] : 0.f);
      }
  }
}

template <int M>
void gemvM(const Problem& p, long n0, long n1) {
  if (p.transposed) gemvOutIn<M>(p, n0, n1);
  else gemvInOut<M>(p, n0, n1);
}

void gemv(const Problem& p, long n0, long n1) {
  switch (p.M) {
    case 1: return gemvM<1>(p, n0, n1);
    case 2: return gemvM<2>(p, n0, n1);
    case 3: return gemvM<3>(p, n0, n1);
    default: return gemvM<4>(p, n0, n1);
  }
}

}  // namespace

namespace causalmm {
extern const Isa ISA = {ISA_NAME, NR, MR, VW, bPackFloats, packA, gemm, gemv, fmaPeak};
}
