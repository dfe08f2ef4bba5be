// `causalmm ask` as a user runs it: the built bin as a child process, on a model directory made the
// way a user has one (weights + tokenizer + preprocessor_config.json in one folder).
import { afterAll, beforeAll, expect, test } from "vitest";
import { spawn } from "node:child_process";
import { builtCli, type BuiltCli } from "../helpers/built-cli.js";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeFixtures } from "../helpers/fixtures.js";

let built: BuiltCli | null = null;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.CAUSALMM_BACKEND;
    const child = spawn(process.execPath, [built!.main, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function makeModelDir(fixtures: string): string {
  const dir = mkdtempSync(join(tmpdir(), "causalmm-ask-"));
  const copyAll = (from: string) => readdirSync(from).forEach((f) => copyFileSync(join(from, f), join(dir, f)));
  copyAll(join(fixtures, "llava-tiny-56", "model-f32"));
  copyAll(join(fixtures, "tokenizer"));
  const processor = {
    crop_size: { height: 56, width: 56 },
    size: { shortest_edge: 56 },
    do_center_crop: true,
    do_resize: true,
    do_normalize: true,
  };
  writeFileSync(join(dir, "preprocessor_config.json"), JSON.stringify(processor));
  return dir;
}

/** An error is one line on stderr, names the problem, and has no stack trace. */
function expectOneLineError(r: Run, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBeNull();
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).toBe("");
}

describeFixtures("causalmm ask (built CLI, child process)", (fixtures) => {
  let model: string;
  const photo = join(fixtures, "preprocess", "coffee.png");
  const ask = (...extra: string[]) =>
    cli(["ask", "--model", model, "--image", photo, "--max-new-tokens", "5", "--backend", "wasm", ...extra]);

  beforeAll(async () => {
    built = await builtCli("ask");
    model = makeModelDir(fixtures);
  });
  afterAll(() => {
    if (model) rmSync(model, { recursive: true, force: true });
    built?.cleanup();
  });

  test("streams the answer to stdout, nothing on stderr, exit 0; same text as --json", async () => {
    const [streamed, json] = await Promise.all([ask("What is this?"), ask("--json", "What is this?")]);
    expect(streamed.stderr).toBe("");
    expect(streamed.code).toBe(0);
    expect(json.code).toBe(0);
    const out = JSON.parse(json.stdout);
    expect(json.stdout.trim().split("\n")).toHaveLength(1);
    expect(out.ids).toHaveLength(5);
    expect(out.ids.every((id: number) => Number.isInteger(id) && id >= 0 && id < 32064)).toBe(true);
    expect(streamed.stdout).toBe(out.text + "\n");
    expect(out.finishReason).toBe("length");
    expect(out.settings).toMatchObject({
      template: "llava_v1",
      mode: "crop",
      maxNewTokens: 5,
      temperature: 0,
      backend: "wasm",
      question: "What is this?",
      eosTokenIds: [2],
    });
    for (const k of ["loadMs", "imageMs", "visionEncodeMs", "prefillMs", "decodeMs", "prefillTokensPerSec", "decodeTokensPerSec"])
      expect(out.timings[k]).toBeGreaterThan(0);
    expect(out.timings.prefillTokens).toBeGreaterThan(16); // the 16 image positions plus the prompt
    expect(out.timings.decodeTokens).toBe(4);
  });

  test("--verbose prints llama.cpp-style timings on stderr", async () => {
    const r = await ask("--verbose", "What is this?");
    expect(r.code).toBe(0);
    for (const s of ["backend: wasm", "load time", "vision encode", "prefill", "decode", "tok/s"]) expect(r.stderr).toContain(s);
  });

  test("template, mode, one-word suffix, sampling with a seed and stop strings are applied", async () => {
    const opts = [
      "--json",
      "--template",
      "llava-hf",
      "--mode",
      "pad",
      "--one-word",
      "--temperature",
      "0.8",
      "--top-p",
      "0.9",
      "--top-k",
      "50",
      "--seed",
      "7",
    ];
    const [a, b, greedy] = await Promise.all([
      ask(...opts, "Is it a cup?"),
      ask(...opts, "Is it a cup?"),
      ask("--json", "--max-new-tokens", "8", "Is it a cup?"),
    ]);
    const [ja, jb, jg] = [a, b, greedy].map((r) => JSON.parse(r.stdout));
    expect(ja.ids).toEqual(jb.ids);
    expect(ja.settings).toMatchObject({
      template: "llava-hf",
      mode: "pad",
      suffix: " Please answer this question with one word.",
      seed: 7,
      topP: 0.9,
      topK: 50,
    });
    // Stop on a piece of the greedy answer: the output ends right before it.
    const text: string = jg.text;
    const stop = text.slice(Math.floor(text.length / 2), Math.floor(text.length / 2) + 2);
    const cut = await ask("--max-new-tokens", "8", "--stop", stop, "Is it a cup?");
    expect(cut.code).toBe(0);
    expect(cut.stdout).toBe(text.slice(0, text.indexOf(stop)) + "\n");
  });

  test("ask --help lists the options", async () => {
    const r = await cli(["ask", "--help"]);
    expect(r.code).toBe(0);
    for (const s of ["--image", "--max-new-tokens", "--temperature", "--top-p", "--seed", "--stop", "--json", "--verbose", "--template"])
      expect(r.stdout).toContain(s);
  });

  test("errors: one clear line and a non-zero exit", async () => {
    const missing = join(fixtures, "preprocess", "no-such-photo.png");
    const truncated = join(fixtures, "preprocess", "truncated.jpg");
    const [noImage, badJpeg, noModel, unknown, noQuestion, badTemp] = await Promise.all([
      cli(["ask", "--model", model, "--image", missing, "--backend", "wasm", "What?"]),
      cli(["ask", "--model", model, "--image", truncated, "--backend", "wasm", "What?"]),
      cli(["ask", "--model", join(model, "nope"), "--image", photo, "--backend", "wasm", "What?"]),
      cli(["ask", "--model", model, "--image", photo, "--frobnicate", "What?"]),
      cli(["ask", "--model", model, "--image", photo, "--backend", "wasm"]),
      cli(["ask", "--model", model, "--image", photo, "--backend", "wasm", "--temperature", "-1", "What?"]),
    ]);
    expectOneLineError(noImage, /no-such-photo\.png.*(no such file|not found)/);
    expectOneLineError(badJpeg, /truncated\.jpg.*truncated/);
    expectOneLineError(noModel, /model directory not found: .*nope/);
    expectOneLineError(unknown, /unknown option '--frobnicate'/);
    expectOneLineError(noQuestion, /question is required/);
    expectOneLineError(badTemp, /temperature/);
  });
});
