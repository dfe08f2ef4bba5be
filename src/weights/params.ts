// The one name-mapping step. A model declares its parameters by calling `take.*(name, shape)` while it
// assembles its parameter tree. We run that declaration twice: first against a planner that only
// records names and shapes (so every missing, unexpected or mis-shaped tensor is reported at once,
// before any byte is read), then against the loader that reads, converts and uploads each tensor.
import * as tf from "@tensorflow/tfjs-core";
import { ResidentStack, ResidentTable, type LayerStack, type TokenTable } from "./stack.js";
/** A linear weight kept outside tfjs: model/kernels/native.ts's NativeWeight (declared here so that
 *  weights/ imports nothing from model/). */
export interface HostLinearWeight {
  readonly inDim: number;
  readonly outDim: number;
  readonly dtype: "F32" | "F16" | "BF16";
  readonly bytes: number;
  dispose(): void;
}

/** What `Take.linear` gives: a backend tensor `[in, out]`, or a host weight for the native GEMM. */
export type LinearWeight = tf.Tensor2D | HostLinearWeight;

export interface Take {
  /** 1-D tensor `[n]`. */
  vec(name: string, n: number): tf.Tensor1D;
  /** 2-D tensor stored as-is `[rows, cols]` (embeddings). */
  matrix(name: string, rows: number, cols: number): tf.Tensor2D;
  /** torch Linear weight `[out, in]`, returned as `[in, out]` for plain matMul (or kept on the host: residency `native`). */
  linear(name: string, inDim: number, outDim: number): LinearWeight;
  /** Conv2d weight `[out, in, k, k]` (stride k, no bias), returned as `[in·k·k, out]`. */
  conv2dAsLinear(name: string, outCh: number, inCh: number, k: number): tf.Tensor2D;
  /** `count` layers, layer i declared by `declare(i, take)`; unit names are `${unit}.${i}` (residency units). */
  stack<L>(unit: string, count: number, declare: (i: number, take: Take) => L): LayerStack<L>;
  /** A `[rows, cols]` token table: "embed" (gathered by row) or "head" (lm_head: a torch Linear `[V, D]`). */
  table(name: string, rows: number, cols: number, role: TableRole): TokenTable;
}

export type TableRole = "embed" | "head";

/** Residency unit of tensors declared outside any stack or table: always resident (norms, projector, patch embedding). */
export const FIXED_UNIT = "fixed";

export interface PlannedTensor {
  name: string;
  /** Shape in the checkpoint. */
  shape: number[];
  /** Used as the right operand of matMul (XNNPACK keeps a packed copy). */
  matmul: boolean;
  /** Residency unit: FIXED_UNIT, "embed", "lm_head", or a stack layer such as "text.3". */
  unit: string;
}

/** Records what a model wants; returns placeholders that must never be used as tensors. */
export class ParamPlanner implements Take {
  readonly wanted: PlannedTensor[] = [];
  private unit = FIXED_UNIT;
  private add(name: string, shape: number[], matmul: boolean): never {
    this.wanted.push({ name, shape, matmul, unit: this.unit });
    return undefined as never;
  }
  private within<T>(unit: string, f: () => T): T {
    const prev = this.unit;
    this.unit = unit;
    try {
      return f();
    } finally {
      this.unit = prev;
    }
  }
  stack<L>(unit: string, count: number, declare: (i: number, take: Take) => L): LayerStack<L> {
    for (let i = 0; i < count; i++) this.within(`${unit}.${i}`, () => declare(i, this));
    return undefined as never;
  }
  table(name: string, rows: number, cols: number, role: TableRole): TokenTable {
    // a tied lm_head reads the embedding table: one unit, counted once by the plan
    return this.within(role === "embed" ? "embed" : "lm_head", () => this.add(name, [rows, cols], role === "head"));
  }
  vec(name: string, n: number) {
    return this.add(name, [n], false);
  }
  matrix(name: string, rows: number, cols: number) {
    return this.add(name, [rows, cols], false);
  }
  linear(name: string, inDim: number, outDim: number) {
    return this.add(name, [outDim, inDim], true);
  }
  conv2dAsLinear(name: string, outCh: number, inCh: number, k: number) {
    return this.add(name, [outCh, inCh, k, k], true);
  }
}

/** Where tensors come from: a checkpoint (src/weights/checkpoint.ts) or anything shaped like it. */
export interface TensorSource {
  readonly dir: string;
  names(): string[];
  shapeOf(name: string): number[];
  fileOf(name: string): string;
  /** Dtype in the file (default F32). */
  dtypeOf?(name: string): string;
  readFloat32(name: string): Float32Array;
  /** The tensor's values in their file dtype, without widening (16-bit host copies); absent: float32. */
  readRaw?(name: string): RawTensor;
}

/** One tensor's values as stored: 16-bit patterns for F16/BF16, float32 otherwise. */
export interface RawTensor {
  dtype: "F32" | "F16" | "BF16";
  data: Float32Array | Uint16Array;
}

export interface LoadProgress {
  file: string;
  tensor: string;
  loadedBytes: number;
  totalBytes: number;
}

/** Checks a plan against a source; throws one error listing every problem by name. */
export function checkPlan(plan: PlannedTensor[], src: TensorSource, ignoreUnexpected: RegExp[] = []): void {
  const have = new Set(src.names());
  const wanted = new Set(plan.map((p) => p.name));
  const missing = plan.filter((p) => !have.has(p.name)).map((p) => p.name);
  const badShape = plan
    .filter((p) => have.has(p.name) && !sameShape(src.shapeOf(p.name), p.shape))
    .map((p) => `${p.name} in ${src.fileOf(p.name)}: shape [${src.shapeOf(p.name)}], config expects [${p.shape}]`);
  const unexpected = [...have].filter((n) => !wanted.has(n) && !ignoreUnexpected.some((re) => re.test(n)));
  const parts: string[] = [];
  if (missing.length) parts.push(`missing tensors (${missing.length}): ${list(missing)}`);
  if (badShape.length) parts.push(`shape mismatches (${badShape.length}):\n    ${badShape.slice(0, 20).join("\n    ")}`);
  if (unexpected.length) parts.push(`unexpected tensors (${unexpected.length}): ${list(unexpected)}`);
  if (parts.length) throw new Error(`${src.dir}: checkpoint does not match config.json:\n  ${parts.join("\n  ")}`);
}

function list(names: string[]): string {
  return names.slice(0, 20).join(", ") + (names.length > 20 ? `, … (${names.length - 20} more)` : "");
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Every layer of a stack declared now and kept (for takes that hold everything on the backend). */
export function residentStack<L>(take: Take, count: number, declare: (i: number, take: Take) => L): LayerStack<L> {
  return new ResidentStack(Array.from({ length: count }, (_, i) => declare(i, take)));
}

/** A table held as one backend tensor: embeddings `[V,D]`, lm_head transposed to `[D,V]`. */
export function residentTable(take: Take, name: string, rows: number, cols: number, role: TableRole): TokenTable {
  if (role === "embed") return new ResidentTable(take.matrix(name, rows, cols), "rows");
  const w = take.linear(name, cols, rows);
  if (!(w instanceof tf.Tensor)) throw new Error(`${name}: a resident lm_head must be a backend tensor`);
  return new ResidentTable(w, "cols");
}

/** Reads each planned tensor once, converts it to float32 and uploads it in the layout asked for. */
export class ParamLoader implements Take {
  private loaded = 0;
  constructor(
    private readonly src: TensorSource,
    private readonly totalBytes: number,
    private readonly onProgress?: (p: LoadProgress) => void,
  ) {}

  private read(name: string): Float32Array {
    const data = this.src.readFloat32(name);
    this.note(name, data.length * 4);
    return data;
  }
  /** Reports progress for a tensor read by someone else (kept on the host instead of uploaded). */
  note(name: string, float32Bytes: number): void {
    this.loaded += float32Bytes;
    this.onProgress?.({ file: this.src.fileOf(name), tensor: name, loadedBytes: this.loaded, totalBytes: this.totalBytes });
  }
  stack<L>(_unit: string, count: number, declare: (i: number, take: Take) => L): LayerStack<L> {
    return residentStack(this, count, declare);
  }
  table(name: string, rows: number, cols: number, role: TableRole): TokenTable {
    return residentTable(this, name, rows, cols, role);
  }
  vec(name: string, _n: number) {
    return tf.tensor1d(this.read(name));
  }
  matrix(name: string, rows: number, cols: number) {
    return tf.tensor2d(this.read(name), [rows, cols]);
  }
  linear(name: string, inDim: number, outDim: number) {
    const w = tf.tensor2d(this.read(name), [outDim, inDim]);
    const t = tf.transpose(w) as tf.Tensor2D; // [in, out]
    w.dispose();
    return t;
  }
  conv2dAsLinear(name: string, outCh: number, inCh: number, k: number) {
    const w = tf.tensor2d(this.read(name), [outCh, inCh * k * k]);
    const t = tf.transpose(w) as tf.Tensor2D; // [in·k·k, out]
    w.dispose();
    return t;
  }
}

/** Float32 bytes the planned tensors occupy once uploaded, plus XNNPACK's packed copies. */
export function plannedBytes(plan: PlannedTensor[], packedCopies: boolean): number {
  let bytes = 0;
  for (const p of plan) {
    const n = p.shape.reduce((a, b) => a * b, 1) * 4;
    bytes += p.matmul && packedCopies ? 2 * n : n;
  }
  return bytes;
}
