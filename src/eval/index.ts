// The evaluation layer: question files, the resumable runner, scorers. See docs/eval.md.
export type { Answer, Answerer, EvalItem } from "./answerer.js";
export { loadPopeQuestions, splitFromFileName } from "./pope-data.js";
export { loadMmeQuestions, mmeRows, readMmeResults, writeMmeResults } from "./mme-data.js";
export { chunkRange, getChunk, imageBatches } from "./chunks.js";
export { runEval, runQuestions } from "./runner.js";
export type { Progress, RunOptions, RunSummary } from "./runner.js";
export { mergeChunks } from "./merge.js";
export { answersById, readAnswers } from "./answers-file.js";
export { settingsPath, diffSettings } from "./settings.js";
export { llavaSaysNo, operaSaysNo, vcdPredictsYes, pairAnswers, popeMetrics, scorePope, POPE_RULES } from "./pope-score.js";
export type { PopeMetrics, PopeReport, PopeRule, Scored } from "./pope-score.js";
export { mmeParsePred, scoreMme, scoreMmeTask, MME_COGNITION, MME_HALLUCINATION, MME_PERCEPTION } from "./mme-score.js";
export type { MmeReport, MmeTaskScore } from "./mme-score.js";
export { comparePope } from "./compare.js";
export { mcnemarExact, percentileInterval } from "./stats.js";
