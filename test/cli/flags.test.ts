// The flag parser as the commands declare it (issue 13 items 1, 4, 5, 7): which flags the user gave,
// switches that only take true/false words, LLaVA's long names, and numeric ranges checked in one place.
import { describe, expect, it } from "vitest";
import { helpText, parseArgs, type CommandSpec } from "../../src/cli/args.js";
import { COMMANDS } from "../../src/cli/commands/index.js";
import { buildAskOptions, settingSources } from "../../src/cli/ask-flags.js";
import { withPresetSampling } from "../../src/causal/presets.js";

const cmd = (name: string): CommandSpec => COMMANDS.find((c) => c.name === name)!;
const parse = (name: string, ...argv: string[]) => parseArgs(argv, cmd(name));

describe("flags the user did not give never override a preset (item 1)", () => {
  it("--preset official samples at T = 1, top-p 1, seed 55; given flags still win", () => {
    const official = withPresetSampling(buildAskOptions(parse("ask", "--preset", "official", "q")));
    expect(official).toMatchObject({ temperature: 1, topP: 1, seed: 55 });
    const greedy = withPresetSampling(buildAskOptions(parse("ask", "--preset", "official", "--temperature", "0", "q")));
    expect(greedy).toMatchObject({ temperature: 0, topP: 1, seed: 55 });
    // without a preset the library defaults apply (greedy)
    expect(buildAskOptions(parse("ask", "q")).temperature).toBeUndefined();
  });

  it("records which flags were given, and the sources of each decoding value", () => {
    const args = parse("ask", "--preset", "official", "--gamma", "2", "--max-new-tokens=4", "q");
    expect([...args.given!].sort()).toEqual(["gamma", "max-new-tokens", "preset"]);
    const s = settingSources(args, buildAskOptions(args));
    expect(s).toMatchObject({
      temperature: "preset",
      "top-p": "preset",
      seed: "preset",
      epsilon: "preset",
      gamma: "flag",
      "max-new-tokens": "flag",
      template: "default",
      "top-k": "default",
    });
    const plain = parse("ask", "--temperature", "0.5", "q");
    expect(settingSources(plain, buildAskOptions(plain))).toMatchObject({ temperature: "flag", "top-p": "default", epsilon: "default" });
  });

  it("eval takes the same path (its model options are the ask flags)", () => {
    const args = parse("eval", "pope", "--preset", "official");
    expect(withPresetSampling(buildAskOptions(args))).toMatchObject({ temperature: 1, topP: 1, seed: 55 });
  });
});

describe("--flag=VALUE switches (item 4)", () => {
  it("accepts true/false/1/0/yes/no in any case", () => {
    for (const [v, want] of [
      ["true", true],
      ["FALSE", false],
      ["1", true],
      ["0", false],
      ["Yes", true],
      ["no", false],
      ["NO", false],
    ] as const) {
      expect(parse("eval", "pope", `--overwrite=${v}`).opts.overwrite).toBe(want);
    }
    expect(parse("eval", "pope", "--overwrite").opts.overwrite).toBe(true);
  });

  it("rejects anything else with an error naming the flag; never turns a destructive flag on", () => {
    for (const v of ["nope", "", "2", "off", "y"]) {
      expect(() => parse("eval", "pope", `--overwrite=${v}`)).toThrow(new RegExp(`--overwrite is a switch.*got '${v}'`));
    }
  });
});

describe("LLaVA's long flag names (item 5)", () => {
  it("eval accepts --question-file, --answers-file, --conv-mode, --model-path", () => {
    const a = parse(
      "eval",
      "pope",
      "--question-file",
      "q.jsonl",
      "--answers-file=a.jsonl",
      "--conv-mode",
      "vicuna_v1",
      "--model-path",
      "m",
    );
    expect(a.opts).toMatchObject({ questions: "q.jsonl", answers: "a.jsonl", template: "vicuna_v1", model: "m" });
    expect([...a.given!].sort()).toEqual(["answers", "model", "questions", "template"]);
    expect(buildAskOptions(a).template).toBe("vicuna_v1");
    expect(() => parse("eval", "pope", "--conv-mode", "nonsense")).toThrow(/--template must be one of/);
  });

  it("--help lists the aliases", () => {
    const h = helpText(cmd("eval"));
    for (const s of ["--question-file", "--answers-file", "--conv-mode", "--model-path"]) expect(h).toContain(s);
  });
});

describe("numeric flags are validated once, by the parser (item 7)", () => {
  const bad: [string, string[], RegExp][] = [
    ["ask", ["--epsilon", "2"], /--epsilon must be a number in \(0, 1\]/],
    ["ask", ["--epsilon", "0"], /--epsilon must be a number in \(0, 1\]/],
    ["ask", ["--epsilon", "-1"], /--epsilon must be/],
    ["ask", ["--draws", "0"], /--draws must be an integer ≥ 1/],
    ["ask", ["--draws", "1.5"], /--draws must be an integer ≥ 1/],
    ["ask", ["--gamma", "Infinity"], /--gamma needs a finite number/],
    ["ask", ["--gamma", "nan"], /--gamma needs a finite number/],
    ["ask", ["--top-p", "0"], /--top-p must be a number in \(0, 1\]/],
    ["ask", ["--max-new-tokens", "-1"], /--max-new-tokens must be an integer ≥ 0/],
    ["eval", ["pope", "--epsilon=1.5"], /--epsilon must be/],
    ["sweep", ["--draws", "0"], /--draws must be an integer ≥ 1/],
    ["demo", ["--questions", "0"], /--questions must be an integer ≥ 1/],
    ["train", ["--steps", "0"], /--steps must be an integer ≥ 1/],
    ["eval", ["pope", "--num-chunks", "0"], /--num-chunks must be an integer ≥ 1/],
  ];
  for (const [name, argv, re] of bad) {
    it(`${name} ${argv.join(" ")} is an error`, () => expect(() => parse(name, ...argv)).toThrow(re));
  }

  it("values in range pass", () => {
    expect(parse("ask", "--epsilon", "1", "--draws", "3", "--gamma", "-0.5").opts).toMatchObject({ epsilon: 1, draws: 3, gamma: -0.5 });
    expect(parse("demo", "--questions", "1").opts.questions).toBe(1);
  });

  it("train --warmup must be below --steps (checked before any work)", async () => {
    await expect(cmd("train").run(parse("train", "--data", "d", "--out", "o", "--steps", "10", "--warmup", "10"))).rejects.toThrow(
      /--warmup \(10\) must be less than --steps \(10\)/,
    );
  });
});
