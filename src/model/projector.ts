// LLaVA's multi-modal projector: linear → exact GELU → linear, CLIP width → LLM width.
import type * as tf from "@tensorflow/tfjs-core";
import { gelu, linear, type Linear } from "./layers.js";
import type { MatMulChoice } from "./kernels/kernels.js";
import type { Take } from "../weights/params.js";

export interface ProjectorParams {
  l1: Linear;
  l2: Linear;
}

export function projectorParams(take: Take, prefix: string, visionDim: number, textDim: number, bias: boolean): ProjectorParams {
  const lin = (name: string, i: number, o: number): Linear => ({
    w: take.linear(`${prefix}.${name}.weight`, i, o),
    b: bias ? take.vec(`${prefix}.${name}.bias`, o) : undefined,
  });
  return { l1: lin("linear_1", visionDim, textDim), l2: lin("linear_2", textDim, textDim) };
}

/** `[B,N,Dv]` → `[B,N,Dt]`; `stages` receives the intermediates for introspection. */
export function projectorForward(
  P: ProjectorParams,
  x: tf.Tensor3D,
  perf: MatMulChoice,
  stages?: { linear1?: tf.Tensor; gelu?: tf.Tensor },
): tf.Tensor3D {
  const h1 = linear(x, P.l1, perf);
  const g = gelu(h1);
  if (stages) {
    stages.linear1 = h1;
    stages.gelu = g;
  }
  return linear(g, P.l2, perf) as tf.Tensor3D;
}
