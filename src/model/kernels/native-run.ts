// How each tfjs backend hands tensor memory to the native GEMM addon (native.ts), as tfjs kernels so that
// the outputs are ordinary backend tensors (tf.tidy, disposal and tf.memory() apply). wasm: the inputs are
// read in place from the wasm heap and the output is written into a tensor allocated there; cpu: the
// backend's own typed arrays.
import * as tf from "@tensorflow/tfjs-core";
import type { Addon } from "./native.js";
import { KERNEL_NAMES } from "./names.js";

export interface NativeRunner {
  /** x [M,K] · w (+bias): w host data [K,N], or [N,K] when transposed ("out,in"), of dtype code 0 F32, 1 F16, 2 BF16. */
  linear(x: tf.Tensor2D, w: Float32Array | Uint16Array, dtype: number, transposed: boolean, bias?: tf.Tensor1D): tf.Tensor2D;
  /** a [M,K] · b [K,N] (+bias), all float32 tensors on the active backend. */
  matMul(a: tf.Tensor2D, b: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor2D;
}

interface WasmBackend {
  wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory; HEAPU8?: Uint8Array };
  dataIdMap: { get(id: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo;
}
interface CpuBackend {
  data: { get(id: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): tf.TensorInfo;
}

/** The attributes of a native linear call: the weight's host data and how to read it. */
interface LinearAttrs {
  w: Float32Array | Uint16Array;
  dtype: number;
  transposed: boolean;
}

/** A backend's view of its tensors for the addon, and how it allocates the output. */
interface Access {
  output(shape: [number, number]): tf.TensorInfo;
  /** Float32 view of a tensor's data, taken after every allocation (the wasm heap can be replaced when it grows). */
  view(t: tf.TensorInfo): Float32Array;
}

function wasmAccess(be: WasmBackend): Access {
  const heap = () => (be.wasm.HEAPU8 ?? new Uint8Array((be.wasm.asm?.memory ?? be.wasm.wasmMemory)!.buffer)).buffer;
  return {
    output: (shape) => be.makeOutput(shape, "float32"),
    view: (t) =>
      new Float32Array(
        heap(),
        be.dataIdMap.get(t.dataId).memoryOffset,
        t.shape.reduce((a, b) => a * b, 1),
      ),
  };
}

function cpuAccess(be: CpuBackend): Access {
  return {
    output: (shape) => be.makeTensorInfo(shape, "float32", new Float32Array(shape[0] * shape[1])),
    view: (t) => be.data.get(t.dataId).values,
  };
}

const ACCESS: Record<string, (backend: tf.KernelBackend) => Access> = {
  wasm: (be) => wasmAccess(be as unknown as WasmBackend),
  cpu: (be) => cpuAccess(be as unknown as CpuBackend),
};

function register(addon: Addon, backendName: string): void {
  const access = ACCESS[backendName];
  const gemm = (
    be: tf.KernelBackend,
    x: tf.TensorInfo,
    N: number,
    b: (acc: Access) => Float32Array | Uint16Array,
    dtype: number,
    transposed: boolean,
    bias?: tf.TensorInfo,
  ) => {
    const acc = access(be);
    const [M, K] = x.shape;
    const out = acc.output([M, N]);
    addon.gemm(acc.view(x), b(acc), bias ? acc.view(bias) : null, acc.view(out), M, N, K, dtype, transposed ? 1 : 0);
    return out;
  };
  tf.registerKernel({
    kernelName: KERNEL_NAMES.nativeMatMul,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { a, b, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
      return gemm(backend as tf.KernelBackend, a, b.shape[1], (acc) => acc.view(b), 0, false, bias);
    },
  });
  tf.registerKernel({
    kernelName: KERNEL_NAMES.nativeLinear,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, bias } = inputs as { x: tf.TensorInfo; bias?: tf.TensorInfo };
      const { w, dtype, transposed } = attrs as unknown as LinearAttrs;
      const N = w.length / x.shape[1];
      return gemm(backend as tf.KernelBackend, x, N, () => w, dtype, transposed, bias);
    },
  });
}

const runners = new Map<string, NativeRunner | null>();

/** The runner for `backend`, or null where the addon cannot reach its memory (then native.ts falls back to tfjs). */
export function runnerFor(addon: Addon, backend: string): NativeRunner | null {
  if (!runners.has(backend)) {
    if (!ACCESS[backend]) {
      runners.set(backend, null);
    } else {
      if (!tf.getKernel(KERNEL_NAMES.nativeMatMul, backend)) register(addon, backend);
      const run = (name: string, inputs: tf.NamedTensorMap, attrs: object = {}) =>
        tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor2D;
      const withBias = (inputs: tf.NamedTensorMap, bias?: tf.Tensor1D) => (bias ? { ...inputs, bias } : inputs);
      runners.set(backend, {
        linear: (x, w, dtype, transposed, bias) => run(KERNEL_NAMES.nativeLinear, withBias({ x }, bias), { w, dtype, transposed }),
        matMul: (a, b, bias) => run(KERNEL_NAMES.nativeMatMul, withBias({ a, b }, bias)),
      });
    }
  }
  return runners.get(backend)!;
}
