"""The seed's calibration operation types, each a loop that performs its operation once per iteration.

Every workload defines `fn({iterations})` and is measured at several sizes, so calibration can fit
fuel = fixed + fuel_per_op × iterations instead of dividing total fuel by iterations (the seed's
method, which folds QuickJS's start-up cost into every operation).
"""

from __future__ import annotations

from dataclasses import dataclass

# Iteration counts: a 1:2:4:8 ladder. Cheap operations use the base ladder; heavy ones a smaller one so
# the whole calibration stays well under a second of fuel.
BASE_SIZES = (2_500, 5_000, 10_000, 20_000)
HEAVY_SIZES = (500, 1_000, 2_000, 4_000)


@dataclass(frozen=True)
class Workload:
    name: str
    category: str
    description: str
    body: str  # statements run once per iteration; `i` is the loop index, `n` the iteration count
    setup: str = ""
    result: str = "acc"
    sizes: tuple[int, ...] = BASE_SIZES

    @property
    def code(self) -> str:
        return (
            "function fn(parameters) {\n"
            "  const n = parameters.iterations;\n"
            "  let acc = 0;\n"
            f"  {self.setup}\n"
            f"  for (let i = 0; i < n; i++) {{ {self.body} }}\n"
            f"  return {self.result};\n"
            "}\n"
        )


WORKLOADS: tuple[Workload, ...] = (
    Workload("baseline", "baseline", "Empty loop: the loop's own cost per iteration", ""),
    Workload("arithmetic_add", "arithmetic", "Addition", "acc = acc + i;"),
    Workload("arithmetic_multiply", "arithmetic", "Multiplication", "acc = i * 7;"),
    Workload("arithmetic_divide", "arithmetic", "Division", "acc = i / 7;"),
    Workload("property_read", "property", "Read a named property", "acc = o.a;",
             setup="const o = { a: 1, b: 2, c: 3 };"),
    Workload("property_write", "property", "Write a named property", "o.a = i;",
             setup="const o = { a: 1, b: 2, c: 3 };", result="o.a"),
    Workload("property_dynamic", "property", "Read a computed property (o[key])", "acc = o[keys[i & 3]];",
             setup="const o = { k0: 0, k1: 1, k2: 2, k3: 3 }; const keys = ['k0', 'k1', 'k2', 'k3'];"),
    Workload("array_push", "array", "Array.prototype.push", "a.push(i);", setup="const a = [];",
             result="a.length"),
    Workload("array_index", "array", "Read an array element by index", "acc = a[i & 7];",
             setup="const a = [1, 2, 3, 4, 5, 6, 7, 8];"),
    Workload("array_map", "array", "Array.prototype.map over a 4-element array", "r = a.map((x) => x + i);",
             setup="const a = [1, 2, 3, 4]; let r = a;", result="r", sizes=HEAVY_SIZES),
    Workload("function_call", "function", "Call a small function", "acc = add(acc, i);",
             setup="function add(x, y) { return x + y; }"),
    Workload("function_recursive", "function", "Depth-10 recursion (11 calls) per iteration",
             "acc = depth(10);", setup="function depth(k) { return k === 0 ? 0 : 1 + depth(k - 1); }",
             sizes=HEAVY_SIZES),
    Workload("string_concat", "string", "String concatenation with a number", "s = 'item-' + i;",
             setup="let s = '';", result="s"),
    Workload("string_template", "string", "Template literal with a number", "s = `item-${i}`;",
             setup="let s = '';", result="s"),
    Workload("object_create", "object", "Create a 3-property object literal",
             "o = { id: i, name: 'step', ok: true };", setup="let o = null;", result="o"),
    Workload("json_stringify", "json", "JSON.stringify of a 4-field object", "s = JSON.stringify(o);",
             setup="const o = { id: 1, name: 'step', tags: ['a', 'b'], ok: true }; let s = '';",
             result="s", sizes=HEAVY_SIZES),
    Workload("json_parse", "json", "JSON.parse of a 4-field object", "o = JSON.parse(t);",
             setup="const t = '{\"id\":1,\"name\":\"step\",\"tags\":[\"a\",\"b\"],\"ok\":true}'; let o = null;",
             result="o", sizes=HEAVY_SIZES),
    Workload("comparison", "comparison", "Numeric comparison", "b = i < 4096;", setup="let b = false;",
             result="b"),
    Workload("logical_and", "logical", "Logical AND of two values", "b = i && n;", setup="let b = 0;",
             result="b"),
    Workload("logical_or", "logical", "Logical OR of two values", "b = i || n;", setup="let b = 0;",
             result="b"),
    Workload(
        "workflow_sim",
        "workflow",
        "Workflow-like step: build an input object, spread and enrich it, JSON round-trip into the context",
        "const input = { id: i, amount: i * 3, currency: 'USD', tags: ['a', 'b'] };"
        " const out = { ...input, total: input.amount * 1.1, label: `order-${input.id}` };"
        " ctx.steps['s' + (i & 7)] = JSON.parse(JSON.stringify(out));",
        setup="const ctx = { steps: {} };",
        result="Object.keys(ctx.steps).length",
        sizes=HEAVY_SIZES,
    ),
)

EMPTY_CODE = "function fn(parameters) { return null; }"


def workload(name: str) -> Workload:
    for w in WORKLOADS:
        if w.name == name:
            return w
    raise KeyError(name)
