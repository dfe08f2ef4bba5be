// causalmm_gemm: the N-API face of the native GEMM (native.ts is its only caller). Picks the best kernels
// this CPU runs (AVX-512 > AVX2+FMA+F16C > portable) at load, and splits C's columns over a small
// persistent thread pool (the calling thread is worker 0). Calls are synchronous and serialized.
#include <node_api.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include "gemm.h"

namespace causalmm {

float f16ToF32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (man << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {  // subnormal: normalize
    int e = 113;
    while (!(man & 0x400)) {
      man <<= 1;
      e--;
    }
    bits = sign | (uint32_t(e) << 23) | ((man & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

namespace {

/**
 * Workers 1..n-1 wait for a job; run() offers it to all of them and works on it itself as thread 0.
 * On this shared machine a worker may be descheduled for several milliseconds, so by default a job is
 * written as "take work items from a shared counter until none are left", and run() waits only for the
 * workers that joined before it finished its own part: a late worker finds the job closed and skips it,
 * instead of every call waiting for it to be scheduled. run(job, true) waits for every worker (fmaPeak).
 */
class Pool {
 public:
  void resize(int n) {
    stopAll();
    stop_ = false;
    // a new worker waits for the next job, not the last one (whose std::function is gone)
    for (int i = 1; i < n; i++) workers_.emplace_back([this, i, seen = generation_] { loop(i, seen); });
    scratch_.resize(n);
  }
  int size() const { return int(workers_.size()) + 1; }
  void run(const std::function<void(int)>& job, bool everyWorker = false) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &job;
      open_ = true;
      joined_ = finished_ = 0;
      generation_++;
    }
    wake_.notify_all();
    job(0);
    std::unique_lock<std::mutex> lock(mu_);
    if (!everyWorker) open_ = false;
    done_.wait(lock, [&] { return everyWorker ? finished_ == int(workers_.size()) : finished_ == joined_; });
    open_ = false;
  }
  std::vector<float>& scratch(int t) { return scratch_[t]; }
  void stopAll() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

 private:
  void loop(int i, long seen) {
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (!open_) continue;  // finished without this worker
        joined_++;
        job = job_;
      }
      (*job)(i);
      std::lock_guard<std::mutex> lock(mu_);
      finished_++;
      done_.notify_one();
    }
  }
  std::vector<std::thread> workers_;
  std::vector<std::vector<float>> scratch_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  long generation_ = 0;
  int joined_ = 0, finished_ = 0;
  bool open_ = false, stop_ = false;
};

Pool* pool = nullptr;
std::mutex callMu;
const Isa* isa = &isaPortable;
int threadCount = 1;
int users = 0;

bool supports(const Isa* i) {
  __builtin_cpu_init();
  if (i == &isaAvx512) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
  }
  if (i == &isaAvx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");  // F16C: every AVX2 CPU has it
  return true;
}

std::vector<float> aPacked;  // the packed A of the current call (calls are serialized by callMu)

/**
 * GEMM: the threads first pack A's panels (groups of 4 from a shared counter), then, after the pool's
 * barrier, take column chunks of C from another, so a thread the OS delays (this machine is shared) does
 * not hold the others up; about 12 chunks per thread, since one descheduled while it holds the last
 * chunk delays the call by a chunk. Chunks are multiples of the kernel's column tile (A is packed once,
 * so a narrow chunk costs no repacking).
 * GEMV: one contiguous column range per thread.
 */
void runProblem(const Problem& p) {
  bool gemv = p.M <= 4;
  double work = double(p.M) * p.N * p.K;
  int T = work < (1 << 20) ? 1 : pool->size();
  long align = gemv ? 64 : isa->nAlign;
  // GEMV streams whole rows of B: one long chunk per thread keeps the reads contiguous
  long parts = gemv ? T : 12 * T;
  long chunk = T == 1 ? p.N : ((p.N + parts - 1) / parts + align - 1) / align * align;
  long chunks = (p.N + chunk - 1) / chunk;
  long mPanels = (p.M + isa->mr - 1) / isa->mr;
  if (!gemv) {
    size_t need = size_t(mPanels * isa->mr * p.K);
    if (aPacked.size() < need) aPacked.resize(need);
  }
  std::atomic<long> next{0}, nextPanel{0};
  std::function<void(int)> pack = [&](int t) {
    if (t >= T) return;
    for (long ip = nextPanel.fetch_add(4); ip < mPanels; ip = nextPanel.fetch_add(4))
      isa->packA(p, ip, ip + 4 < mPanels ? ip + 4 : mPanels, aPacked.data());
  };
  std::function<void(int)> job = [&](int t) {
    if (t >= T) return;
    float* bPack = nullptr;
    if (!gemv) {
      auto& s = pool->scratch(t);
      size_t need = size_t(isa->bPackFloats());
      if (s.size() < need) s.resize(need);
      bPack = s.data();
    }
    for (long i = next++; i < chunks; i = next++) {
      long n0 = i * chunk, n1 = n0 + chunk < p.N ? n0 + chunk : p.N;
      if (gemv) isa->gemv(p, n0, n1);
      else isa->gemm(p, n0, n1, aPacked.data(), bPack);
    }
  };
  if (T == 1) {
    if (!gemv) pack(0);
    job(0);
  } else {
    if (!gemv) pool->run(pack);
    pool->run(job);
  }
  // a one-off large A (a long prompt) is not kept for the rest of the process
  if (aPacked.size() > (size_t(64) << 20)) std::vector<float>().swap(aPacked);
}

// ---------------------------------------------------------------- N-API glue

napi_value throwError(napi_env env, const std::string& msg) {
  napi_throw_error(env, nullptr, ("causalmm_gemm: " + msg).c_str());
  return nullptr;
}

/** A typed array's data and element count (null data when the value is null/undefined). */
bool typedArray(napi_env env, napi_value v, napi_typedarray_type want, void** data, size_t* length) {
  napi_valuetype vt;
  napi_typeof(env, v, &vt);
  if (vt == napi_null || vt == napi_undefined) {
    *data = nullptr;
    *length = 0;
    return true;
  }
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (!is) return false;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, data, &ab, &offset) != napi_ok) return false;
  return type == want;
}

int64_t intArg(napi_env env, napi_value v) {
  int64_t x = -1;
  napi_get_value_int64(env, v, &x);
  return x;
}

/** gemm(a: Float32Array, b: Float32Array | Uint16Array, bias: Float32Array | null, c: Float32Array, M, N, K, dtype, transposed) */
napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value args[9];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  if (argc != 9) return throwError(env, "gemm expects 9 arguments");
  Problem p{};
  p.M = intArg(env, args[4]);
  p.N = intArg(env, args[5]);
  p.K = intArg(env, args[6]);
  int64_t dtype = intArg(env, args[7]);
  p.transposed = intArg(env, args[8]) != 0;
  if (p.M < 0 || p.N < 0 || p.K < 0 || dtype < 0 || dtype > 2) return throwError(env, "bad sizes or dtype");
  p.dtype = Dtype(dtype);
  void *a, *b, *bias, *c;
  size_t na, nb, nbias, nc;
  auto bType = dtype == F32 ? napi_float32_array : napi_uint16_array;
  if (!typedArray(env, args[0], napi_float32_array, &a, &na) || !a) return throwError(env, "a must be a Float32Array");
  if (!typedArray(env, args[1], bType, &b, &nb) || !b) return throwError(env, "b must be a Float32Array (F32) or Uint16Array (F16/BF16)");
  if (!typedArray(env, args[2], napi_float32_array, &bias, &nbias)) return throwError(env, "bias must be a Float32Array or null");
  if (!typedArray(env, args[3], napi_float32_array, &c, &nc) || !c) return throwError(env, "c must be a Float32Array");
  if (na < size_t(p.M * p.K) || nb < size_t(p.K * p.N) || nc < size_t(p.M * p.N) || (bias && nbias < size_t(p.N))) {
    return throwError(env, "an array is shorter than the sizes given");
  }
  p.a = static_cast<float*>(a);
  p.b = b;
  p.bias = static_cast<float*>(bias);
  p.c = static_cast<float*>(c);
  if (p.M == 0 || p.N == 0) return nullptr;
  if (p.K == 0) {
    for (long i = 0; i < p.M; i++)
      for (long j = 0; j < p.N; j++) p.c[i * p.N + j] = p.bias ? p.bias[j] : 0.f;
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(callMu);
  runProblem(p);
  return nullptr;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr);
  int64_t n = argc == 1 ? intArg(env, arg) : -1;
  if (n < 1 || n > 256) return throwError(env, "setThreads expects 1..256");
  std::lock_guard<std::mutex> lock(callMu);
  threadCount = int(n);
  pool->resize(threadCount);
  return nullptr;
}

/** fmaPeak(iters, threads) → GFLOP/s of the current ISA's register-only FMA loop on `threads` pool threads together. */
napi_value FmaPeak(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  napi_get_cb_info(env, info, &argc, args, nullptr, nullptr);
  int64_t iters = argc == 2 ? intArg(env, args[0]) : -1, T = argc == 2 ? intArg(env, args[1]) : -1;
  std::lock_guard<std::mutex> lock(callMu);
  if (iters < 1 || T < 1 || T > pool->size()) return throwError(env, "fmaPeak expects iterations ≥ 1 and 1..setThreads() threads");
  std::vector<double> seconds(T);
  std::vector<float> sink(T);
  std::function<void(int)> job = [&](int t) {
    if (t >= T) return;
    auto t0 = std::chrono::steady_clock::now();
    sink[t] = isa->fmaPeak(iters);
    seconds[t] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  pool->run(job, true);
  double gflops = 0;
  for (int t = 0; t < T; t++) gflops += double(iters) * 12 * isa->vectorFloats * 2 / seconds[t] / 1e9;
  napi_value v;
  napi_create_double(env, gflops, &v);
  return v;
}

napi_value string(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

napi_value IsaName(napi_env env, napi_callback_info) { return string(env, isa->name); }

/** setIsa("avx512" | "avx2" | "portable") → whether this CPU runs it (tests run every path). */
napi_value SetIsa(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  napi_get_cb_info(env, info, &argc, &arg, nullptr, nullptr);
  char name[32] = {0};
  size_t len;
  if (argc != 1 || napi_get_value_string_utf8(env, arg, name, sizeof name, &len) != napi_ok) return throwError(env, "setIsa expects a name");
  bool ok = false;
  for (const Isa* i : {&isaAvx512, &isaAvx2, &isaPortable}) {
    if (std::strcmp(name, i->name) == 0 && supports(i)) {
      std::lock_guard<std::mutex> lock(callMu);
      isa = i;
      ok = true;
    }
  }
  napi_value v;
  napi_get_boolean(env, ok, &v);
  return v;
}

void cleanup(void*) {
  std::lock_guard<std::mutex> lock(callMu);
  if (--users == 0) pool->resize(1);
}

}  // namespace
}  // namespace causalmm

NAPI_MODULE_INIT() {
  using namespace causalmm;
  {
    std::lock_guard<std::mutex> lock(callMu);
    if (!pool) {
      pool = new Pool();
      pool->resize(1);
      for (const Isa* i : {&isaAvx512, &isaAvx2, &isaPortable}) {
        if (supports(i)) {
          isa = i;
          break;
        }
      }
    }
    users++;
  }
  napi_add_env_cleanup_hook(env, cleanup, nullptr);
  const napi_property_descriptor props[] = {
      {"gemm", nullptr, Gemm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"isa", nullptr, IsaName, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setIsa", nullptr, SetIsa, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"fmaPeak", nullptr, FmaPeak, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
