// Where a model's large weights live. A layer stack and a token table look the same to the forward
// code whether their tensors stay on the backend (resident) or are uploaded from 16-bit host copies
// for the moment they are used (streamed, src/model/residency.ts). The forward code only ever asks
// `stack.use(i, run)` and `table.gather / project`, so hooks, taps and CausalMM branches never see the
// difference, and the arithmetic is the same tfjs ops on the same float32 values either way.
import * as tf from "@tensorflow/tfjs-core";
import type { RawTensor } from "./params.js";
import { RowGather } from "./host.js";

/** a `[M,K]` · b `[K,N]` → `[M,N]`. */
export type MatMul2D = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** The weights of a stack of layers (CLIP encoder layers, LLaMA decoder layers). */
export interface LayerStack<L> {
  readonly length: number;
  /** Runs `run` with layer i's weights as backend tensors; a streamed layer is uploaded before and freed after. */
  use<R>(i: number, run: (layer: L) => R): R;
}

/** A `[V, D]` table with one row per token: the input embeddings or lm_head. */
export interface TokenTable {
  readonly vocab: number;
  readonly dim: number;
  /** Token ids `[B][S]` → rows `[B,S,D]`. */
  gather(ids: number[][]): tf.Tensor3D;
  /**
   * x `[N,D]` → x·Wᵀ `[N,V]` (lm_head). `matMul` is the 2-D product the caller chose for lm_head weights
   * on the backend (model/llama.ts `lmHead`: the native GEMM where the performance options allow it);
   * a table the addon reads on the host (native residency) has its own.
   */
  project(x: tf.Tensor2D, matMul: MatMul2D): tf.Tensor2D;
  /**
   * The rows of `tokens` `[n, D]`, token-major, in the table's own dtype (a few logits as one small
   * product; host tables are read in place, 16-bit rows stay 16-bit), in a scratch buffer that the next
   * call overwrites.
   */
  rowsOf(tokens: ArrayLike<number>): RawTensor;
  /** The backend tensor when resident (training multiplies it directly): `[V,D]` for embeddings, `[D,V]` for lm_head. */
  readonly tensor?: tf.Tensor2D;
}

/** Every layer kept on the backend (today's `all` policy, training variables). */
export class ResidentStack<L> implements LayerStack<L> {
  constructor(readonly layers: L[]) {}
  get length(): number {
    return this.layers.length;
  }
  use<R>(i: number, run: (layer: L) => R): R {
    return run(this.layers[i]);
  }
}

function idsTensor(ids: number[][]): tf.Tensor2D {
  return tf.tensor2d(ids.flat(), [ids.length, ids[0]?.length ?? 0], "int32");
}

/** A resident table stored `[V,D]` (embeddings) or `[D,V]` (lm_head, transposed at load for plain matMul). */
export class ResidentTable implements TokenTable {
  private byToken: Float32Array | null = null;
  private readonly rowGather = new RowGather();
  constructor(
    readonly tensor: tf.Tensor2D,
    private readonly layout: "rows" | "cols",
  ) {}
  get vocab(): number {
    return this.tensor.shape[this.layout === "rows" ? 0 : 1];
  }
  get dim(): number {
    return this.tensor.shape[this.layout === "rows" ? 1 : 0];
  }
  gather(ids: number[][]): tf.Tensor3D {
    return tf.tidy(() => {
      const rows = this.layout === "rows" ? this.tensor : tf.transpose(this.tensor);
      return tf.gather(rows, idsTensor(ids)) as unknown as tf.Tensor3D; // [B,S,D]
    });
  }
  project(x: tf.Tensor2D, matMul: MatMul2D): tf.Tensor2D {
    if (this.layout === "rows") return tf.matMul(x, this.tensor, false, true); // tied to the embeddings [V,D]
    return matMul(x, this.tensor);
  }
  rowsOf(tokens: ArrayLike<number>): RawTensor {
    this.byToken ??= this.tokenMajor();
    return this.rowGather.gather({ dtype: "F32", data: this.byToken }, this.dim, tokens, "token table");
  }

  /** `[V·D]` token-major in JS memory (made once: a backend gather of a few columns is slow on wasm). */
  private tokenMajor(): Float32Array {
    const w = this.tensor.dataSync() as Float32Array;
    if (this.layout === "rows") return w.slice();
    const [D, V] = this.tensor.shape;
    const out = new Float32Array(V * D);
    for (let d = 0; d < D; d++) for (let v = 0, src = d * V; v < V; v++) out[v * D + d] = w[src + v];
    return out;
  }
}

/** Every tf.Tensor in a parameter tree (stacks and tables included), each once. */
export function collectTensors(x: unknown, out: tf.Tensor[] = []): tf.Tensor[] {
  if (x instanceof tf.Tensor) out.push(x);
  else if (ArrayBuffer.isView(x))
    return out; // host data (token-major copies), never tensors
  else if (Array.isArray(x)) x.forEach((v) => collectTensors(v, out));
  else if (x && typeof x === "object") Object.values(x).forEach((v) => collectTensors(v, out));
  return out;
}
