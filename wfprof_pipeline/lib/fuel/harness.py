"""The JavaScript that implements the seed's fn protocol inside QuickJS (kept as a string so it ships with the code)."""

HARNESS_JS = r"""
// wfprof's fn protocol, run by QuickJS as the top-level classic script. The user's code is data
// (scriptArgs[1], a JSON document), evaluated by indirect eval as a classic script of its own: a static
// `import` is a SyntaxError and the user's line numbers are exactly theirs. The result goes to stdout
// after a per-evaluation nonce the user code never sees, so printing cannot forge or hide it.
(function () {
  "use strict";
  var nonce = scriptArgs[0], input = scriptArgs[1];
  var print_ = print, stringify = JSON.stringify, parse = JSON.parse, eval_ = eval, String_ = String;
  var ErrorCtor = Error, InternalErrorCtor = InternalError, RangeErrorCtor = RangeError;
  var SyntaxErrorCtor = SyntaxError, PromiseCtor = Promise;
  delete globalThis.scriptArgs;

  function isA(value, ctor) {
    try { return value instanceof ctor; } catch (_) { return false; }
  }
  function text(value) {
    try { return String_(value); } catch (_) { return "<" + typeof value + ">"; }
  }
  function field(obj, key) {
    try { return obj[key]; } catch (_) { return "<" + key + " threw>"; }  // hostile getters
  }
  function describe(e) {
    if (isA(e, ErrorCtor)) {
      var s = text(field(e, "name")) + ": " + text(field(e, "message")), stack = field(e, "stack");
      if (typeof stack === "string" && stack) s += "\n" + stack;
      return s;
    }
    var shown;
    try { shown = stringify(e); } catch (_) { shown = undefined; }
    return "Uncaught " + (e === null ? "null" : typeof e) + ": " + (shown === undefined ? text(e) : shown);
  }
  function kindOf(e) {
    var message = e ? text(field(e, "message")) : "";
    if (isA(e, InternalErrorCtor) && message.indexOf("out of memory") >= 0) return "out_of_memory";
    if (e === null) return "out_of_memory_or_null";  // QuickJS throws null when it cannot even allocate the error
    if ((isA(e, InternalErrorCtor) || isA(e, RangeErrorCtor)) && /stack|recursion/.test(message)) {
      return "stack_overflow";
    }
    return "runtime_error";
  }
  function isCompileError(e) {
    // A parse error's stack starts at the code itself, right under eval; JSON.parse errors sit under parse.
    if (!isA(e, SyntaxErrorCtor)) return false;
    var stack = text(field(e, "stack")).split("\n");
    return /^\s*at <input>:\d+:\d+$/.test(stack[0]) && /^\s*at eval \(native\)$/.test(stack[1] || "");
  }
  // Records are assembled from JSON-encoded strings: stringify of a string primitive never consults a
  // user-defined Object.prototype.toJSON.
  function emit(kind, message) {
    print_(nonce + '{"ok":false,"kind":' + stringify(kind) + ',"error":' + stringify(text(message)) + "}");
  }
  function fail(kind, e) {
    emit(kind, describe(e));
  }

  var request = parse(input), fn;
  try {
    fn = eval_(request.code + "\n;typeof fn === 'function' ? fn : undefined");
  } catch (e) {
    fail(isCompileError(e) ? "syntax_error" : kindOf(e), e);
    return;
  }
  if (typeof fn !== "function") {
    emit("missing_fn", "the code must define a function named fn, e.g. function fn(parameters) { return 1; }");
    return;
  }
  var result;
  try {
    result = fn(request.parameters);
  } catch (e) {
    fail(kindOf(e), e);
    return;
  }
  if (isA(result, PromiseCtor)) {
    emit("invalid_result", "fn returned a Promise: async code is not supported (the sandbox runs no event loop)");
    return;
  }
  var json;
  try {
    json = stringify(result === undefined ? null : result);
  } catch (e) {
    emit("invalid_result", "fn's result is not JSON-serializable: " + describe(e));
    return;
  }
  if (json === undefined) {
    emit("invalid_result", "fn's result is not JSON-serializable: it is a " + typeof result);
    return;
  }
  print_(nonce + '{"ok":true,"result":' + json + "}");
})();
"""

# QuickJS parses the harness on every evaluation and parsing costs fuel (~1,000 per comment character):
# ship it without comment lines and indentation. Safe because no string literal starts a line with //.
HARNESS_JS_MIN = "\n".join(
    line.strip() for line in HARNESS_JS.splitlines() if line.strip() and not line.strip().startswith("//")
)
