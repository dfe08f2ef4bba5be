// withSharedMemoryImport: the kernel module, whose .wat imports a plain memory, made to import a shared
// one (tfjs-wasm's threaded build) — instantiable with a shared memory (the original is not), same exports.
import { describe, expect, test } from "vitest";
import { WASM_KERNELS } from "../../src/model/kernels/wasm-kernels-module.js";
import { withSharedMemoryImport } from "../../src/model/kernels/shared-memory.js";

const bytes = Uint8Array.from(atob(WASM_KERNELS), (ch) => ch.charCodeAt(0));
const sharedMemory = () => new WebAssembly.Memory({ initial: 2, maximum: 1024, shared: true });

describe("shared-memory kernel module", () => {
  test("the original module refuses a shared memory; the rewritten one takes it and keeps its exports", () => {
    expect(() => new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory: sharedMemory() } })).toThrow();
    const patched = new WebAssembly.Module(withSharedMemoryImport(bytes));
    const imports = WebAssembly.Module.imports(patched);
    expect(imports).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
    expect(WebAssembly.Module.exports(patched)).toEqual(WebAssembly.Module.exports(new WebAssembly.Module(bytes)));
    const inst = new WebAssembly.Instance(patched, { env: { memory: sharedMemory() } });
    expect(Object.keys(inst.exports).sort()).toEqual(["cutoff", "pv", "qk"]);
  });

  test("it refuses a plain memory afterwards (the flag really changed) and leaves other sections alone", () => {
    const patched = withSharedMemoryImport(bytes);
    expect(
      () => new WebAssembly.Instance(new WebAssembly.Module(patched), { env: { memory: new WebAssembly.Memory({ initial: 2 }) } }),
    ).toThrow();
    // only the import entry grows: flags 0x00 → 0x03 and a maximum of 65536 pages (3 LEB bytes)
    expect(patched.length).toBe(bytes.length + 3);
    expect(withSharedMemoryImport(bytes, 1024).length).toBe(bytes.length + 2);
  });
});
