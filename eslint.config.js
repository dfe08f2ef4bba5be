// ESLint flat config: the recommended JavaScript and typescript-eslint sets, plus the house rules below.
// The project's own TypeScript (src/, test/, benchmarks/) is linted with type information, for no-floating-promises.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // generated or local output (as in .gitignore), data, and the docs
  {
    ignores: [
      "dist/",
      "node_modules/",
      "**/build/",
      ".tmp/",
      "test-artifacts/",
      "demo-out/",
      "scratch/",
      "weights/",
      "docs/",
      "test/vision/data/",
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      // a statement does one thing: no `if (tap) (tap(a), tap(b))` one-liners, even in parentheses
      "no-sequences": ["error", { allowInParentheses: false }],
      // a leading underscore marks a parameter that an interface requires but this implementation does not read
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    files: ["src/**/*.ts", "test/**/*.ts", "benchmarks/**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { "@typescript-eslint/no-floating-promises": "error" },
  },
  {
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: globals.node },
    // CommonJS scripts load their dependencies with require()
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  { files: ["**/*.js"], languageOptions: { globals: globals.node } },
);
