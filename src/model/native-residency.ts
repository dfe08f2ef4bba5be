// The `native` residency: every linear weight of both towers and lm_head stays on the host in its file
// dtype (F16/BF16/F32, safetensors layout [out, in], no transpose copy) as a NativeWeight that the native
// GEMM (kernels/native.ts) reads in place. The backend (the wasm heap) then holds only activations, norms,
// biases, the patch embedding and the KV cache; the embedding table is gathered by row on the host.
// Nothing streams and XNNPACK packs nothing, so the heap does not grow layer by layer.
import * as tf from "@tensorflow/tfjs-core";
import { HostTensors } from "../weights/host.js";
import {
  ParamLoader,
  residentStack,
  type RawTensor,
  type TableRole,
  type Take,
  type TensorSource,
  type LoadProgress,
} from "../weights/params.js";
import type { LayerStack, TokenTable } from "../weights/stack.js";
import { nativeLinear, nativeWeight, type NativeWeight } from "./kernels/native.js";
import { HostTable } from "./residency.js";

/** A Take that keeps linear weights and token tables on the host and uploads the small tensors. */
export class NativeLoader implements Take {
  readonly host: HostTensors;
  private readonly upload: ParamLoader;
  private readonly weights: NativeWeight[] = [];

  constructor(src: TensorSource, totalBytes: number, onProgress?: (p: LoadProgress) => void) {
    this.host = new HostTensors(src);
    this.upload = new ParamLoader(src, totalBytes, onProgress);
  }

  vec(name: string, n: number) {
    return this.upload.vec(name, n);
  }
  matrix(name: string, rows: number, cols: number) {
    return this.upload.matrix(name, rows, cols);
  }
  conv2dAsLinear(name: string, outCh: number, inCh: number, k: number) {
    return this.upload.conv2dAsLinear(name, outCh, inCh, k);
  }

  linear(name: string, inDim: number, outDim: number): NativeWeight {
    return this.hostWeight(name, inDim, outDim);
  }

  stack<L>(_unit: string, count: number, declare: (i: number, take: Take) => L): LayerStack<L> {
    return residentStack(this, count, declare);
  }

  table(name: string, rows: number, cols: number, role: TableRole): TokenTable {
    if (role === "embed") {
      this.upload.note(name, this.host.keep(name));
      return new HostTable(this.host, name, rows, cols, rows);
    }
    return new NativeHead(this.hostWeight(name, cols, rows), this.host, name);
  }

  /** The checkpoint tensor `name` ([out, in]) kept in its file dtype and wrapped for the native GEMM. */
  private hostWeight(name: string, inDim: number, outDim: number): NativeWeight {
    this.upload.note(name, this.host.keep(name));
    const raw = this.host.readRaw(name);
    const w = nativeWeight(raw.data, raw.dtype, inDim, outDim, "out,in");
    this.weights.push(w);
    return w;
  }

  /** Releases every host weight (the model's dispose). */
  release(): void {
    for (const w of this.weights) w.dispose();
    this.weights.length = 0;
    this.host.clear();
  }
}

/** lm_head as a host weight `[V, D]`: x·Wᵀ by the native GEMM, no vocabulary chunks, nothing on the backend. */
class NativeHead implements TokenTable {
  constructor(
    private readonly w: NativeWeight,
    private readonly host: HostTensors,
    private readonly name: string,
  ) {}
  get vocab(): number {
    return this.w.outDim;
  }
  get dim(): number {
    return this.w.inDim;
  }
  gather(ids: number[][]): tf.Tensor3D {
    // a tied lm_head is also the embedding table: its rows are the host copy's rows
    return tf.tensor3d(this.host.readRows(this.name, ids.flat()), [ids.length, ids[0]?.length ?? 0, this.dim]);
  }
  project(x: tf.Tensor2D): tf.Tensor2D {
    return nativeLinear(x, this.w); // [N, V]
  }
  rowsOf(tokens: ArrayLike<number>): RawTensor {
    return this.host.gatherRows(this.name, tokens); // [n, D] rows of the host weight, in its dtype
  }
}
