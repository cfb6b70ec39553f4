const original = {
  date: new Date("2024-01-01T00:00:00Z"),
  map: new Map<string, any>([["a", 1], ["nested", { deep: [1, 2, { x: 3 }] }]]),
  set: new Set([1, "two", 3n]),
  regex: /abc/gi,
  typed: new Uint8Array([1, 2, 3]),
  big: 12345678901234567890n,
  nan: NaN,
  negzero: -0,
  undef: undefined,
  error: new RangeError("boom"),
};
(original as any).self = original;
const copy = structuredClone(original);
console.log(copy.date instanceof Date, copy.date.toISOString(), copy.date !== original.date);
console.log(copy.map, copy.set, copy.regex, copy.typed, copy.big);
console.log(Object.is(copy.negzero, -0), copy.nan, "undef" in copy, (copy as any).self === copy);
console.log(copy.error instanceof RangeError, copy.error.message, copy.error.name);
for (const bad of [() => 1, Symbol("s"), { f() {} }]) {
  try {
    structuredClone(bad);
  } catch (e) {
    console.log((e as Error).name, "-", (e as Error).message);
  }
}
class Point { constructor(public x: number, public y: number) {} norm() { return Math.hypot(this.x, this.y); } }
const p = structuredClone(new Point(3, 4));
console.log(p, p instanceof Point, typeof (p as any).norm);
