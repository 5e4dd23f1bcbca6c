"""The JavaScript that implements the seed's fn protocol inside QuickJS (kept as strings so it ships with the code).

QuickJS parses the harness on every evaluation, and parsing costs fuel and time (~750 fuel per source
character), so the harness is split: HARNESS_JS, the script run every time, is small; REPORTER_JS, which
describes a failure, travels as an argument and is compiled only when something failed. Both ship without
comment lines and indentation (HARNESS_JS_MIN, REPORTER_JS_MIN).

Arguments (scriptArgs): [nonce, request JSON {code, parameters}, REPORTER_JS]. The user's code is data,
evaluated by indirect eval as a classic script of its own: a static `import` is a SyntaxError and the
user's line numbers are exactly theirs. Every record goes to stdout after the per-evaluation nonce, which the
user code never sees, so printing cannot forge or hide it. Everything the harness needs after user code has
run (print, JSON.stringify, eval, …) is captured before it runs, so poisoned globals cannot break reporting.
"""

HARNESS_JS = r"""
(function () {
  var args = scriptArgs, nonce = args[0], request = JSON.parse(args[1]), reporter = args[2];
  var out = print, json = JSON.stringify, str = String, ErrorType = Error, PromiseType = Promise, ev = eval;
  var fn, result, text;
  delete globalThis.scriptArgs;
  function fail(phase, e) {
    ev(reporter)(out, json, str, ErrorType, nonce)(phase, e);
  }
  try {
    fn = ev(request.code + "\n;typeof fn === 'function' ? fn : undefined");
  } catch (e) {
    return fail("eval", e);
  }
  if (typeof fn !== "function") return fail("missing_fn", null);
  try {
    result = fn(request.parameters);
  } catch (e) {
    return fail("call", e);
  }
  try {
    if (result instanceof PromiseType) return fail("promise", null);
    text = json(result === undefined ? null : result);
  } catch (e) {
    return fail("result", e);
  }
  if (text === undefined) return fail("result_type", typeof result);
  out(nonce + '{"ok":true,"result":' + text + "}");
})();
"""

# A function expression evaluated in the global scope that touches nothing global: only its parameters.
# Records are assembled from JSON-encoded strings (stringify of a string primitive never consults a
# user-defined toJSON); reading a property of the thrown value may run a hostile getter, hence `get`.
REPORTER_JS = r"""
(function (out, json, str, ErrorType, nonce) {
  function get(obj, key) {
    try { return obj[key]; } catch (_) { return "<" + key + " threw>"; }
  }
  function safe(value) {
    try { return str(value); } catch (_) { return "<" + typeof value + ">"; }
  }
  return function (phase, e) {
    var error = false, shown;
    try { error = e instanceof ErrorType; } catch (_) {}
    if (!error) {
      try { shown = json(e); } catch (_) {}
    }
    out(nonce + '{"ok":false,"phase":' + json(phase) + ',"type":' + json(e === null ? "null" : typeof e) +
        ',"is_error":' + (error ? "true" : "false") +
        ',"name":' + json(error ? safe(get(e, "name")) : "") +
        ',"message":' + json(safe(error ? get(e, "message") : shown === undefined ? e : shown)) +
        ',"stack":' + json(error ? safe(get(e, "stack")) : "") + "}");
  };
})
"""


def _minify(source: str) -> str:
    # Safe here because no string literal in the harness starts a line with // or spans lines.
    lines = (line.strip() for line in source.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//"))


HARNESS_JS_MIN = _minify(HARNESS_JS)
REPORTER_JS_MIN = _minify(REPORTER_JS)
