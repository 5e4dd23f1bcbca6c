// Test-only: the seed's per-file metrics counted on the TypeScript compiler's AST (the seed's parser), with
// the semantics documented in design.md. Prints [{file, metrics}] for the files on argv. The Python analyzer's
// file-level numbers are held to these. (The benchmark's baseline does the same with a program per file.)
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

const KINDS = { ".tsx": ts.ScriptKind.TSX, ".jsx": ts.ScriptKind.JSX, ".js": ts.ScriptKind.JS, ".mjs": ts.ScriptKind.JS,
  ".cjs": ts.ScriptKind.JS };

function metrics(file) {
  const text = fs.readFileSync(file, "utf8");
  const kind = KINDS[path.extname(file)] ?? ts.ScriptKind.TS;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ESNext, true, kind);
  const d = { ifs: 0, ternaries: 0, switches: 0, switchCases: 0, forLoops: 0, whileLoops: 0, doWhileLoops: 0,
    logicalAnds: 0, logicalOrs: 0, nullishCoalescing: 0 };
  const m = { lines: text.split("\n").length, awaitExpressions: 0, functionCalls: 0, tryCatchBlocks: 0,
    throwStatements: 0, catches: 0 };
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
      case ts.SyntaxKind.CatchClause: m.catches++; break;
      case ts.SyntaxKind.ThrowStatement: m.throwStatements++; break;
      case ts.SyntaxKind.AwaitExpression: m.awaitExpressions++; break;
      case ts.SyntaxKind.CallExpression: m.functionCalls++; break;
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
  const loops = d.forLoops + d.whileLoops + d.doWhileLoops;
  return {
    lines: m.lines,
    awaitExpressions: m.awaitExpressions,
    functionCalls: m.functionCalls,
    conditionals: d.ifs + d.ternaries + d.switches,
    tryCatchBlocks: m.tryCatchBlocks,
    throwStatements: m.throwStatements,
    loops,
    cyclomaticComplexity: 1 + d.ifs + d.ternaries + d.switchCases + m.catches + loops + d.logicalAnds +
      d.logicalOrs + d.nullishCoalescing,
    details: d,
    parseErrors: source.parseDiagnostics.length,
  };
}

process.stdout.write(JSON.stringify(process.argv.slice(2).map((f) => ({ file: path.resolve(f), metrics: metrics(f) }))));
