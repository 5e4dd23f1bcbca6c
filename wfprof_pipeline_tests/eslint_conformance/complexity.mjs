// Test-only: print ESLint's `complexity` rule (classic, threshold 0) for the files given on argv, as JSON:
// [{file, fatal, functions: [{name, line, endLine, complexity}]}]. The reference the Python analyzer is held to.
// Usage: node complexity.mjs ROOT FILE... (ESLint ignores files outside its cwd, so ROOT becomes the cwd).
import { ESLint } from "eslint";
import tseslint from "typescript-eslint";

const MESSAGE = /^(.*) has a complexity of (\d+)\. Maximum allowed is 0\.$/;

import path from "node:path";
const [root, ...files] = process.argv.slice(2).map((p) => path.resolve(p));
const eslint = new ESLint({
  cwd: root,
  overrideConfigFile: true,
  overrideConfig: [
    {
      files: ["**/*.{ts,tsx,mts,cts,js,jsx,mjs,cjs}"],
      languageOptions: {
        parser: tseslint.parser,
        parserOptions: { ecmaFeatures: { jsx: true } },
      },
      rules: { complexity: ["error", { max: 0 }] },
    },
  ],
});

const results = await eslint.lintFiles(files);
const out = results.map((r) => ({
  file: r.filePath,
  fatal: r.messages.filter((m) => m.fatal).map((m) => `${m.line}:${m.column} ${m.message}`),
  functions: r.messages
    .filter((m) => m.ruleId === "complexity")
    .map((m) => {
      const [, name, complexity] = MESSAGE.exec(m.message);
      return { name, line: m.line, column: m.column, endLine: m.endLine, endColumn: m.endColumn, complexity: Number(complexity) };
    }),
}));
process.stdout.write(JSON.stringify(out));
