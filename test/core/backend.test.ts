import { describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { assertFitsBackend, guardWasmHeap, initBackend, parseBackendName, setWasmHeapLimit } from "../../src/backend.js";

describe("backends", () => {
  test("a backend that is not installed is a clear error, not a fallback", async () => {
    let native = true;
    try {
      await import("@tensorflow/tfjs-node" as string);
    } catch {
      native = false;
    }
    if (native) return; // a machine with libtensorflow: nothing to check here
    await expect(initBackend("node")).rejects.toThrow(/backend 'node' is not available: .*@tensorflow\/tfjs-node.*--backend wasm\|cpu/s);
    await expect(initBackend("cuda")).rejects.toThrow(/@tensorflow\/tfjs-node-gpu/);
  });

  test("auto picks the first that loads and says which", async () => {
    const info = await initBackend("auto");
    expect(["cuda", "node", "wasm", "cpu"]).toContain(info.name);
  });

  test("unknown names list the choices", () => {
    expect(() => parseBackendName("metal")).toThrow(/auto, cuda, node, wasm, cpu/);
  });

  test("the wasm heap guard refuses models that would not fit", async () => {
    await initBackend("wasm");
    expect(() => assertFitsBackend(14e9, "llava-1.5-7b")).toThrow(/4 GiB heap.*--backend cpu/s);
    expect(() => assertFitsBackend(100e6, "tiny")).not.toThrow();
    await initBackend("cpu");
    expect(() => assertFitsBackend(14e9, "llava-1.5-7b")).not.toThrow();
  });

  test("the runtime guard stops a forward before the wasm heap fills", async () => {
    await initBackend("wasm");
    const big = tf.zeros([64, 1024, 1024]); // 256 MiB live
    const prev = setWasmHeapLimit(128 * 1024 ** 2);
    try {
      expect(() => guardWasmHeap("text layer 3")).toThrow(/wasm heap nearly full at text layer 3/);
    } finally {
      setWasmHeapLimit(prev);
      big.dispose();
    }
    expect(() => guardWasmHeap("text layer 3")).not.toThrow();
  });
});
