// VLind-Bench end to end as a user runs it: `eval vlind` answers every probe of the hand-made set with the
// embedded lab model, `score vlind` scores the answers file, and the scores equal a direct count over the
// answer texts; the same answers in the release's prediction-file form score the same.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Jimp } from "jimp";
import { expect, test } from "vitest";
import { runNode } from "../helpers/run.js";
import { REPO_ROOT } from "../helpers/fixtures.js";
import { tmp } from "./helpers.js";
import { releasePredictions, VLIND_DATA, vlindImagePaths, writeVlindData } from "./vlind-fixture.js";

const CLI = join(REPO_ROOT, "dist", "src", "cli", "main.js");
const cli = (args: string[]) => runNode([CLI, ...args, "--backend", "wasm"]);

/** infer_true_or_false, restated: the first space-separated word, without , and ., that is true/false. */
const parse = (t: string) =>
  t
    .toLowerCase()
    .replace(/\n/g, " ")
    .replace(/[,.]/g, "")
    .split(" ")
    .find((w) => w === "true" || w === "false");

test("eval vlind + score vlind on the lab model equal a direct count", async () => {
  const dir = tmp("vlind-cli-");
  const data = writeVlindData(dir);
  let shade = 0;
  for (const rel of vlindImagePaths()) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    shade = (shade + 0x305070) & 0xffffff;
    writeFileSync(join(dir, rel), await new Jimp({ width: 40, height: 40, color: shade * 256 + 255 }).getBuffer("image/jpeg"));
  }
  const answers = join(dir, "out", "lab.jsonl");
  const ev = await cli(["eval", "vlind", "--data", data, "--answers", answers, "--max-new-tokens", "6"]);
  expect(ev.status, ev.stderr).toBe(0);
  const rows = readFileSync(answers, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  // 6 probes per instance with a good image + 2 per good image: (6 + 6) + (6 + 4) + (6 + 2); animal/1 skipped
  expect(rows).toHaveLength(30);
  expect(rows[0]).toMatchObject({
    question_id: "animal/0/a1",
    image: "factual/animal/0_Swans are white/0.jpg",
    prompt:
      "Only respond in True or False.\nStatement: The swan is white.\n" + "Based on common sense, is the given statement true or false?",
  });
  expect(rows.find((r) => r.question_id === "weather/0/d2/8").image).toBe("counterfactual/weather/0_Snow is hot/8.jpg");
  const settings = (f: string) => JSON.parse(readFileSync(`${f}.settings.json`, "utf8")).answerer;
  expect(settings(answers).maxNewTokens).toBe(6);
  // without --max-new-tokens: the release's 64
  const dflt = join(dir, "out", "default.jsonl");
  expect((await cli(["eval", "vlind", "--data", data, "--answers", dflt, "--limit", "2"])).status).toBe(0);
  expect(settings(dflt).maxNewTokens).toBe(64);

  const sc = await cli(["score", "vlind", "--data", data, "--answers", answers, "--json"]);
  expect(sc.status, sc.stderr).toBe(0);
  const report = JSON.parse(sc.stdout);
  // the direct count over the answer texts
  const said = new Map(rows.map((r) => [r.question_id as string, parse(r.text)]));
  const pass = (k: string, p: string, img = "") => said.get(`${k}/${p}1${img}`) === "true" && said.get(`${k}/${p}2${img}`) === "false";
  let na = 0;
  for (const v of said.values()) na += v === undefined ? 1 : 0;
  expect(report.unparsed).toBe(na); // the lab model answers yes/no, so here every answer is NA
  expect(report.probes).toBe(30);
  let n = 0,
    a = 0,
    b = 0,
    c = 0,
    cPass = 0,
    bc = 0,
    dAcc = 0,
    dPipe = 0;
  for (const x of VLIND_DATA) {
    const good = Object.entries(x.aggregated_human_label_good_images)
      .filter(([, v]) => v >= 2)
      .map(([id]) => id);
    if (good.length === 0) continue;
    const k = `${x.concept}/${x.context_id}`;
    n++;
    const pa = pass(k, "a"),
      pb = pass(k, "b"),
      pc = pass(k, "c");
    a += +pa;
    b += +pb;
    c += +pc;
    cPass += +(pa && pc);
    bc += +(pa && pb && pc);
    const d = good.filter((id) => pass(k, "d", `/${id}`)).length / good.length;
    dAcc += d;
    dPipe += pa && pb && pc ? d : 0;
  }
  expect(report.total.instances).toBe(n);
  expect(report.total.CK).toBeCloseTo(a / n, 12);
  expect(report.total.VP).toBeCloseTo(b / n, 12);
  expect(report.total.CB).toBeCloseTo(a ? cPass / a : 0, 12);
  expect(report.total.LP).toBeCloseTo(bc ? dPipe / bc : 0, 12);
  expect(report.total.CBaccuracy).toBeCloseTo(c / n, 12);
  expect(report.total.LPaccuracy).toBeCloseTo(dAcc / n, 12);

  // the release's prediction file with the same responses: the same printed line
  const pred = join(dir, "out", "data_lab.json");
  writeFileSync(pred, JSON.stringify(releasePredictions("lab", Object.fromEntries(rows.map((r) => [r.question_id, r.text])))));
  const fromPred = await cli(["score", "vlind", "--pred-file", pred, "--model-id", "lab"]);
  const fromAnswers = await cli(["score", "vlind", "--data", data, "--answers", answers]);
  expect(fromPred.status, fromPred.stderr).toBe(0);
  expect(fromPred.stdout.trim().split("\n").at(-1)).toBe(fromAnswers.stdout.trim().split("\n").at(-1));
  expect(fromAnswers.stdout).toMatch(/score_pipeline.py's line: S_CK & S_VP & S_CB & S_LP & CB & LP/);

  // a missing image: refused before any model work, naming the file
  const bad = join(dir, "bad", "data.json");
  writeVlindData(dirname(bad));
  const r = await cli(["eval", "vlind", "--data", bad, "--answers", join(dir, "bad", "a.jsonl")]);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/bad\/images\/factual\/animal\/0_Swans are white\/0.jpg: image of animal\/0\/a1 \(.*data.json:2\) not found/);
}, 300_000);
