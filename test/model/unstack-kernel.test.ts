// The wasm unstack kernel (block copies inside the heap; tfjs-wasm's Slice copies its whole input first):
// equal to tf.unstack for float32 and int32, other shapes and ranks, no leaked tensors; off on cpu, with
// kernels turned off, and while a gradient tape records.
import { beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../src/backend.js";
import { unstackKernel } from "../../src/model/kernels/kernels.js";

const ON = { kernels: "auto" } as const;

describe("unstack kernel", () => {
  beforeAll(() => initBackend("wasm"));

  test.each([
    [[16, 37, 21], "float32"],
    [[5, 3], "int32"],
    [[1, 4, 2, 3], "float32"],
    [[7, 1], "float32"],
  ] as const)("shape %j %s: the parts of tf.unstack", (shape, dtype) => {
    const x = dtype === "int32" ? tf.randomUniformInt([...shape], -1000, 1000, 3) : tf.randomNormal([...shape], 0, 1, "float32", 3);
    const before = tf.memory().numTensors;
    const parts = unstackKernel(ON)!(x);
    const ref = tf.unstack(x);
    expect(parts.map((p) => [p.shape, p.dtype])).toEqual(ref.map((p) => [p.shape, p.dtype]));
    parts.forEach((p, i) => expect(Array.from(p.dataSync())).toEqual(Array.from(ref[i].dataSync())));
    tf.dispose([...parts, ...ref]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  test("only on wasm, only with kernels on, never under a gradient tape", async () => {
    expect(unstackKernel(ON)).not.toBeNull();
    expect(unstackKernel({ kernels: "never" })).toBeNull();
    let underTape: unknown = "unset";
    tf.grad((x: tf.Tensor) => {
      underTape = unstackKernel(ON);
      return x.sum();
    })(tf.ones([2]));
    expect(underTape).toBeNull();
    await initBackend("cpu");
    expect(unstackKernel(ON)).toBeNull();
    await initBackend("wasm");
  });
});
