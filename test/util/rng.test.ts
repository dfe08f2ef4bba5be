import { describe, expect, it } from "vitest";
import { Rng, hashKey, seededRng, stream } from "../../src/util/rng.js";

describe("xoshiro128**", () => {
  it("matches the reference sequence for state (1, 2, 3, 4)", () => {
    const r = new Rng([1, 2, 3, 4]);
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([11520, 0, 5927040]);
  });

  it("uniform() is in [0, 1), float32-exact and roughly uniform", () => {
    const r = seededRng(42);
    let sum = 0;
    let bad = 0;
    for (let i = 0; i < 20000; i++) {
      const u = r.uniform();
      if (!(u >= 0 && u < 1) || Math.fround(u) !== u) bad++;
      sum += u;
    }
    expect(bad).toBe(0);
    expect(Math.abs(sum / 20000 - 0.5)).toBeLessThan(0.01);
  });

  it("permutation() is a permutation and covers all orders of 3", () => {
    const r = seededRng(1);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const p = Array.from(r.permutation(3));
      expect([...p].sort()).toEqual([0, 1, 2]);
      seen.add(p.join(""));
    }
    expect(seen.size).toBe(6);
    expect(Array.from(seededRng(3).permutation(0))).toEqual([]);
  });

  it("normal() has mean ≈ 0 and variance ≈ 1", () => {
    const r = seededRng(9);
    let s = 0;
    let s2 = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
  });
});

describe("streams", () => {
  it("same key → same numbers; any differing key part → different numbers", () => {
    const draw = (...k: (number | string)[]) =>
      Array.from(
        { length: 4 },
        (
          (r) => () =>
            r.nextUint32()
        )(stream(...k)),
      );
    const base = draw(0, "random", "text", 3, 1, 17);
    expect(draw(0, "random", "text", 3, 1, 17)).toEqual(base);
    for (const other of [
      [1, "random", "text", 3, 1, 17],
      [0, "shuffle", "text", 3, 1, 17],
      [0, "random", "vision", 3, 1, 17],
      [0, "random", "text", 4, 1, 17],
      [0, "random", "text", 3, 2, 17],
      [0, "random", "text", 3, 1, 18],
    ]) {
      expect(draw(...other)).not.toEqual(base);
    }
  });

  it("key encoding is unambiguous and accepts large and negative integers", () => {
    expect(hashKey(["a1"])).not.toEqual(hashKey(["a", 1]));
    expect(hashKey([1, 23])).not.toEqual(hashKey([12, 3]));
    expect(hashKey([-1])).not.toEqual(hashKey([2 ** 32 - 1]));
    expect(hashKey([2 ** 40])).not.toEqual(hashKey([0]));
    expect(() => hashKey([0.5])).toThrow(/safe integers/);
  });
});
