// Trainable LLaVA parameters. `VariableTake` is a `Take` (src/weights/params.ts) that answers each
// declaration with an initialised tf.variable, so the model's own llavaParams() builds the parameter
// tree and the model's own forward code trains it — no second copy of the architecture.
// Each variable remembers its checkpoint name and layout, to write llava-hf safetensors back out.
import * as tf from "@tensorflow/tfjs-core";
import { stream } from "../util/rng.js";
import type { LlavaConfig } from "../model/config.js";
import { LlavaModel, llavaParams } from "../model/llava.js";
import type { PerformanceOptions } from "../model/performance.js";
import { residentStack, residentTable, type TableRole, type Take, type TensorSource } from "../weights/params.js";
import type { LayerStack, TokenTable } from "../weights/stack.js";

export type ParamKind = "vec" | "matrix" | "linear" | "conv";

export interface TrainParam {
  /** Checkpoint (canonical llava-hf) name. */
  name: string;
  kind: ParamKind;
  /** Shape in the checkpoint (`[out, in]` for linear, `[out, in, k, k]` for conv). */
  ckptShape: number[];
  variable: tf.Variable;
  /** Weight decay applies to matrices only (not norms, biases, or position/class embeddings). */
  decay: boolean;
}

let instances = 0;

/** Initial values: norms 1, biases 0, linear/conv N(0, 1/fan_in); embeddings and the class token N(0, 0.25). */
function initValues(name: string, kind: ParamKind, n: number, fanIn: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  const isNormWeight = kind === "vec" && /norm|layrnorm/.test(name) && name.endsWith(".weight");
  if (isNormWeight) return out.fill(1);
  if (kind === "vec" && !/class_embedding/.test(name)) return out; // biases start at zero
  const rng = stream(seed, "lab-init", name);
  const scale = kind === "linear" || kind === "conv" ? 1 / Math.sqrt(fanIn) : 0.5;
  for (let i = 0; i < n; i++) out[i] = scale * rng.normal();
  return out;
}

export class VariableTake implements Take {
  readonly params: TrainParam[] = [];
  private readonly id = instances++;

  /** `source`, when given, supplies the initial values (a checkpoint to continue from). */
  constructor(
    private readonly seed: number,
    private readonly source?: TensorSource,
  ) {}

  private make(name: string, kind: ParamKind, ckptShape: number[], varShape: number[], fanIn: number): tf.Variable {
    const n = ckptShape.reduce((a, b) => a * b, 1);
    const raw = this.source ? this.source.readFloat32(name) : initValues(name, kind, n, fanIn, this.seed);
    const variable = tf.tidy(() => {
      const t = tf.tensor(raw, kind === "linear" || kind === "conv" ? [ckptShape[0], n / ckptShape[0]] : ckptShape);
      // Linear/conv weights are stored [out, in…] but the model multiplies by [in…, out].
      const v = kind === "linear" || kind === "conv" ? tf.transpose(t) : t;
      return tf.variable(v.reshape(varShape), true, `lab${this.id}/${name}`);
    });
    this.params.push({ name, kind, ckptShape, variable, decay: kind === "linear" || kind === "conv" || /embed_tokens/.test(name) });
    return variable;
  }

  vec(name: string, n: number) {
    return this.make(name, "vec", [n], [n], 1) as tf.Tensor1D;
  }
  matrix(name: string, rows: number, cols: number) {
    return this.make(name, "matrix", [rows, cols], [rows, cols], cols) as tf.Tensor2D;
  }
  linear(name: string, inDim: number, outDim: number) {
    return this.make(name, "linear", [outDim, inDim], [inDim, outDim], inDim) as tf.Tensor2D;
  }
  conv2dAsLinear(name: string, outCh: number, inCh: number, k: number) {
    return this.make(name, "conv", [outCh, inCh, k, k], [inCh * k * k, outCh], inCh * k * k) as tf.Tensor2D;
  }
  stack<L>(_unit: string, count: number, declare: (i: number, take: Take) => L): LayerStack<L> {
    return residentStack(this, count, declare);
  }
  table(name: string, rows: number, cols: number, role: TableRole): TokenTable {
    return residentTable(this, name, rows, cols, role);
  }
}

export interface TrainableModel {
  model: LlavaModel;
  params: TrainParam[];
}

/** A LlavaModel whose parameters are variables (random init from `seed`, or copied from `source`). */
export function trainableModel(
  cfg: LlavaConfig,
  seed: number,
  source?: TensorSource,
  performance?: Partial<PerformanceOptions>,
): TrainableModel {
  const take = new VariableTake(seed, source);
  const model = new LlavaModel(cfg, llavaParams(cfg, take), undefined, performance);
  return { model, params: take.params };
}

/** A parameter's values in checkpoint layout. */
export function checkpointData(p: TrainParam): Float32Array {
  if (p.kind !== "linear" && p.kind !== "conv") return p.variable.dataSync() as Float32Array;
  // not returned through tf.tidy, which would walk every element of the typed array
  const t = tf.transpose(p.variable);
  try {
    return t.dataSync() as Float32Array;
  } finally {
    t.dispose();
  }
}

export function disposeParams(params: TrainParam[]): void {
  for (const p of params) p.variable.dispose();
}
