// The seam between the evaluation layer and a model: the runner only ever talks to an `Answerer`, so it
// can be tested with a fake and driven by any model (ModelAnswerer is the real one).

/** One benchmark question. */
export interface EvalItem {
  questionId: string | number;
  /** Absolute (or cwd-relative) path of the image file. */
  image: string;
  question: string;
  /** Ground truth "yes"/"no" when the question file carries it. */
  label?: string;
  /** POPE split (random/popular/adversarial) or MME subtask. */
  category?: string;
  /** The image name exactly as written in the question file; this goes into the answers file. */
  imageFile?: string;
  meta?: Record<string, unknown>;
}

export interface Answer {
  text: string;
  /** What was asked (the official scripts store the question text here, not the templated prompt). */
  prompt: string;
  meta?: Record<string, unknown>;
}

export interface Answerer {
  /**
   * Answer several questions, one answer per item in the same order. The runner passes consecutive
   * items that share one image (at most `--batch` of them), so an implementation can encode each image
   * once. For exact resume, an answer must depend only on its item (seed per question, not per call):
   * after an interruption the same item may arrive in a smaller group.
   */
  answer(items: EvalItem[]): Promise<Answer[]>;
  readonly modelId: string;
  /** Everything that determines answers; written to `<answers>.settings.json` and compared on resume. */
  readonly settings: Record<string, unknown>;
  /** Optional: release model memory when the run ends (called also after a failure). */
  close?(): Promise<void> | void;
}
