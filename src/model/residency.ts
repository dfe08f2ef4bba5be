// Weight residency: which residency units (src/weights/params.ts: "fixed", "embed", "lm_head",
// "vision.i", "text.i") stay on the backend as float32 tensors, and which stay on the host in their
// file dtype and are uploaded only while they run.
//   all     every unit resident (fastest; needs float32 room for the whole model)
//   budget  the fixed units plus as many others as fit a byte budget (memory-plan.ts picks them)
//   stream  only the fixed units resident; each layer is uploaded, used and freed; the embedding table
//           is gathered by row on the host and lm_head is applied in vocabulary chunks
// A streamed unit runs the same declaration (llamaParams / clipParams) against a loader that reads the
// host copy, so its tensors hold exactly the values a resident load would: answers are bit-identical.
import * as tf from "@tensorflow/tfjs-core";
import { HostTensors } from "../weights/host.js";
import {
  ParamLoader,
  residentTable,
  type RawTensor,
  type TableRole,
  type Take,
  type TensorSource,
  type LoadProgress,
} from "../weights/params.js";
import { collectTensors, type LayerStack, type MatMul2D, type TokenTable } from "../weights/stack.js";

//   native  linear weights and lm_head stay on the host in their file dtype, read in place by the native
//           GEMM (src/model/native-residency.ts); only activations, norms and the KV cache use the backend
export type ResidencyPolicy = "all" | "budget" | "stream" | "native";
export const RESIDENCY_POLICIES: readonly ResidencyPolicy[] = ["all", "budget", "stream", "native"];

/** What the loader keeps resident (decided by the memory plan). */
export interface Residency {
  policy: ResidencyPolicy;
  /** Units kept on the backend besides "fixed" (which always is). */
  resident: ReadonlySet<string>;
  /** lm_head rows per chunk when it is not resident (default: 16 MiB of float32 per chunk). */
  headChunkRows?: number;
}

/** Rows of a `[V, D]` lm_head chunk: about 16 MiB of float32, a multiple of 16 (XNNPACK's tile). */
export function defaultHeadChunkRows(vocab: number, dim: number): number {
  return Math.min(vocab, Math.max(16, Math.floor((16 * 1024 ** 2) / (dim * 4) / 16) * 16));
}

/** A Take that uploads resident units and keeps the others on the host for streaming. */
export class ResidencyLoader implements Take {
  readonly host: HostTensors;
  private readonly upload: ParamLoader;
  private readonly keep: Take;
  private readonly fromHost: ParamLoader;

  constructor(
    src: TensorSource,
    private readonly residency: Residency,
    totalBytes: number,
    onProgress?: (p: LoadProgress) => void,
  ) {
    this.host = new HostTensors(src);
    this.upload = new ParamLoader(src, totalBytes, onProgress);
    this.keep = hostKeeper(this.host, this.upload);
    this.fromHost = new ParamLoader(this.host, 0);
  }

  vec(name: string, n: number) {
    return this.upload.vec(name, n);
  }
  matrix(name: string, rows: number, cols: number) {
    return this.upload.matrix(name, rows, cols);
  }
  linear(name: string, inDim: number, outDim: number) {
    return this.upload.linear(name, inDim, outDim);
  }
  conv2dAsLinear(name: string, outCh: number, inCh: number, k: number) {
    return this.upload.conv2dAsLinear(name, outCh, inCh, k);
  }

  stack<L>(unit: string, count: number, declare: (i: number, take: Take) => L): LayerStack<L> {
    const layers = Array.from({ length: count }, (_, i) => {
      if (this.residency.resident.has(`${unit}.${i}`)) return declare(i, this.upload);
      declare(i, this.keep);
      return null;
    });
    return new MixedStack(layers, declare, this.fromHost);
  }

  table(name: string, rows: number, cols: number, role: TableRole): TokenTable {
    if (this.residency.resident.has(role === "embed" ? "embed" : "lm_head")) return residentTable(this.upload, name, rows, cols, role);
    this.keep.matrix(name, rows, cols);
    return new HostTable(this.host, name, rows, cols, this.residency.headChunkRows ?? defaultHeadChunkRows(rows, cols));
  }
}

/** A Take that only copies each declared tensor to the host (placeholders are never used). */
function hostKeeper(host: HostTensors, progress: ParamLoader): Take {
  const keep = (name: string): never => {
    progress.note(name, host.keep(name));
    return undefined as never;
  };
  return {
    vec: keep,
    matrix: keep,
    linear: keep,
    conv2dAsLinear: keep,
    stack: () => {
      throw new Error("nested layer stacks are not supported");
    },
    table: keep,
  };
}

/** Resident layers where given; the others uploaded from their host copies for the duration of one use. */
class MixedStack<L> implements LayerStack<L> {
  constructor(
    readonly layers: (L | null)[],
    private readonly declare: (i: number, take: Take) => L,
    private readonly fromHost: ParamLoader,
  ) {}
  get length(): number {
    return this.layers.length;
  }
  use<R>(i: number, run: (layer: L) => R): R {
    const resident = this.layers[i];
    if (resident) return run(resident);
    const layer = this.declare(i, this.fromHost);
    try {
      return run(layer);
    } finally {
      // disposing the weights also frees XNNPACK's packed copies (tfjs-wasm's disposal callback)
      for (const t of collectTensors(layer)) t.dispose();
    }
  }
}

/** A token table kept on the host: embeddings gathered by row, lm_head applied in vocabulary chunks. */
export class HostTable implements TokenTable {
  constructor(
    private readonly host: HostTensors,
    private readonly name: string,
    readonly vocab: number,
    readonly dim: number,
    private readonly chunkRows: number,
  ) {}

  gather(ids: number[][]): tf.Tensor3D {
    const flat = ids.flat();
    return tf.tensor3d(this.host.readRows(this.name, flat), [ids.length, ids[0]?.length ?? 0, this.dim]);
  }

  project(x: tf.Tensor2D, matMul: MatMul2D): tf.Tensor2D {
    return tf.tidy(() => {
      const parts: tf.Tensor2D[] = [];
      for (let v0 = 0; v0 < this.vocab; v0 += this.chunkRows) {
        const n = Math.min(this.chunkRows, this.vocab - v0);
        // one chunk of lm_head at a time: [n, D] rows → [D, n] for a plain 2-D matMul, freed after use
        parts.push(
          tf.tidy(() => {
            const w = tf.tensor2d(this.host.readRowRange(this.name, v0, n), [n, this.dim]);
            return matMul(x, tf.transpose(w)); // [N, n], the same product as a resident lm_head's
          }),
        );
      }
      return parts.length === 1 ? parts[0] : tf.concat(parts, 1); // [N, V]
    });
  }

  rowsOf(tokens: ArrayLike<number>): RawTensor {
    // the checkpoint stores lm_head [V, D]: one row per token, read in its file dtype
    return this.host.gatherRows(this.name, tokens);
  }
}
