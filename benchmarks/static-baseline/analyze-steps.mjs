// Benchmark baseline: the seed's `profile:analyze` approach — build a full TypeScript compiler program for
// every step file, walk its AST and count the seed's metrics; external calls by substring of the call text,
// as the seed did. Reconstructed from the seed's documented semantics (design.md); prints the seed's JSON.
// Usage: node analyze-steps.mjs ROOT [--json]
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

const root = path.resolve(process.argv[2] ?? ".");
const files = [];
for (const base of [path.join(root, "plugins"), path.join(root, "keeperhub", "plugins")]) {
  if (!fs.existsSync(base)) continue;
  for (const plugin of fs.readdirSync(base).sort()) {
    const steps = path.join(base, plugin, "steps");
    if (!fs.existsSync(steps)) continue;
    for (const name of fs.readdirSync(steps).sort()) {
      if (/\.(test|spec)\.|\.d\.ts$/.test(name) || !/\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/.test(name)) continue;
      files.push({ file: path.join(steps, name), plugin, step: name.replace(/\.[^.]+$/, "") });
    }
  }
}

const EXTERNAL = [["fetch", "fetch"], ["db.", "database"], ["signer.", "sdk"], ["ethers.", "sdk"], ["axios", "fetch"]];

function analyze({ file, plugin, step }) {
  const program = ts.createProgram([file], { target: ts.ScriptTarget.ESNext, module: ts.ModuleKind.ESNext,
    allowJs: true, jsx: ts.JsxEmit.Preserve, noEmit: true });
  const source = program.getSourceFile(file);
  const text = source.getFullText();
  const m = { lines: text.split("\n").length, awaitExpressions: 0, functionCalls: 0, externalCalls: [],
    conditionals: 0, tryCatchBlocks: 0, throwStatements: 0, loops: 0, cyclomaticComplexity: 1,
    details: { ifs: 0, ternaries: 0, switches: 0, switchCases: 0, forLoops: 0, whileLoops: 0, doWhileLoops: 0,
      logicalAnds: 0, logicalOrs: 0, nullishCoalescing: 0 } };
  const d = m.details;
  let catches = 0;
  const visit = (node) => {
    switch (node.kind) {
      case ts.SyntaxKind.IfStatement: d.ifs++; break;
      case ts.SyntaxKind.ConditionalExpression: d.ternaries++; break;
      case ts.SyntaxKind.SwitchStatement: d.switches++; break;
      case ts.SyntaxKind.CaseClause: d.switchCases++; break;
      case ts.SyntaxKind.ForStatement: case ts.SyntaxKind.ForInStatement: case ts.SyntaxKind.ForOfStatement:
        d.forLoops++; break;
      case ts.SyntaxKind.WhileStatement: d.whileLoops++; break;
      case ts.SyntaxKind.DoStatement: d.doWhileLoops++; break;
      case ts.SyntaxKind.TryStatement: m.tryCatchBlocks++; break;
      case ts.SyntaxKind.CatchClause: catches++; break;
      case ts.SyntaxKind.ThrowStatement: m.throwStatements++; break;
      case ts.SyntaxKind.AwaitExpression: m.awaitExpressions++; break;
      case ts.SyntaxKind.CallExpression: {
        m.functionCalls++;
        const callee = node.expression.getText(source);
        for (const [needle, type] of EXTERNAL) {
          if (callee.includes(needle)) {
            m.externalCalls.push({ name: callee, type,
              line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
            break;
          }
        }
        break;
      }
      case ts.SyntaxKind.BinaryExpression: {
        const op = node.operatorToken.kind;
        if (op === ts.SyntaxKind.AmpersandAmpersandToken) d.logicalAnds++;
        else if (op === ts.SyntaxKind.BarBarToken) d.logicalOrs++;
        else if (op === ts.SyntaxKind.QuestionQuestionToken) d.nullishCoalescing++;
        break;
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  m.conditionals = d.ifs + d.ternaries + d.switches;
  m.loops = d.forLoops + d.whileLoops + d.doWhileLoops;
  m.cyclomaticComplexity = 1 + d.ifs + d.ternaries + d.switchCases + catches + m.loops + d.logicalAnds +
    d.logicalOrs + d.nullishCoalescing;
  return { file: path.relative(root, file), pluginName: plugin, stepName: step, ...m };
}

const results = files.map(analyze);
const plugins = {};
for (const r of results) (plugins[r.pluginName] ??= []).push(r);
const avg = (f) => (results.length ? Math.round((results.reduce((s, r) => s + f(r), 0) / results.length) * 100) / 100 : 0);
const ranked = [...results].sort((a, b) => b.cyclomaticComplexity - a.cyclomaticComplexity);
const id = (r) => (r ? `${r.pluginName}/${r.stepName}` : null);
process.stdout.write(JSON.stringify({
  totalSteps: results.length,
  plugins,
  summary: {
    avgAwaitExpressions: avg((r) => r.awaitExpressions),
    avgCyclomaticComplexity: avg((r) => r.cyclomaticComplexity),
    avgExternalCalls: avg((r) => r.externalCalls.length),
    mostComplex: id(ranked[0]),
    leastComplex: id(ranked[ranked.length - 1]),
  },
}, null, 2) + "\n");
