class Counter {
  #count = 0;
  static #instances = 0;
  constructor() { Counter.#instances++; }
  #log(msg: string) { return `[${Counter.#instances}] ${msg}`; }
  inc() { this.#count++; return this.#log(`count=${this.#count}`); }
  static has(o: object) { return #count in o; }
}
const c = new Counter();
c.inc();
console.log(c.inc(), Counter.has(c), Counter.has({}), c);
type Deep = { a?: { b?: { c?: () => string }[] } };
const d1: Deep = { a: { b: [{ c: () => "called" }] } };
const d2: Deep = {};
console.log(d1.a?.b?.[0]?.c?.(), d2.a?.b?.[0]?.c?.(), d1?.a?.b?.length);
const { a: { b: [first] = [] } = {} } = d1;
console.log(typeof first?.c);
const [x = 1, , z = 3, ...rest] = [undefined, 2, null, 4, 5];
console.log(x, z, rest);
const swap = ([a, b]: [number, number]) => [b, a];
console.log(swap([1, 2]));
const obj = { ["computed_" + 1]: true, "quoted key": 2, 3: "three" };
const { ["quoted key"]: q, ...others } = obj;
console.log(q, others);
function overload(x: string): string;
function overload(x: number): number;
function overload(x: any) { return typeof x === "string" ? x.toUpperCase() : x * 2; }
console.log(overload("a"), overload(2));
