const obj = {
  str: "quote\" backslash\\ newline\n tab\t unicode é 😀 \u2028 \u0007",
  num: 1.5e300, tiny: 5e-324, neg0: -0, nan: NaN, inf: -Infinity,
  undef: undefined, fn: () => 1, sym: Symbol("x"),
  nested: { arr: [undefined, () => 1, Symbol("y"), null], empty: {}, emptyArr: [] },
  date: new Date(Date.UTC(2020, 1, 2)),
  bool: new Boolean(false), numObj: new Number(3), strObj: new String("s"),
  map: new Map([[1, 2]]), set: new Set([1]),
};
console.log(JSON.stringify(obj));
console.log(JSON.stringify(obj, null, 2));
console.log(JSON.stringify(obj, ["str", "nested", "arr"]));
console.log(JSON.stringify([1, [2, [3]]], null, "--"));
console.log(JSON.stringify({ a: 1 }, null, 20) === JSON.stringify({ a: 1 }, null, 10));
console.log(JSON.stringify(undefined), JSON.stringify(() => 1), JSON.stringify(null), JSON.stringify("x"), JSON.stringify(Symbol()));
console.log(JSON.stringify({ toJSON() { return { replaced: true }; } }));
console.log(JSON.stringify({ a: 5, b: "x", c: [1, 2] }, (k, v) => (typeof v === "number" ? v * 2 : v)));
console.log(JSON.stringify("\ud800"), JSON.stringify({ "\u0000key": 1 }));
const circ: any = { name: "loop" };
circ.self = circ;
try { JSON.stringify(circ); } catch (e) { console.log((e as Error).name); console.log((e as Error).message); }
try { JSON.stringify({ big: 1n }); } catch (e) { console.log((e as Error).name + ": " + (e as Error).message); }
console.log(JSON.stringify({ 2: "b", 1: "a", z: 0, [-1]: "neg", "01": "str" }));
