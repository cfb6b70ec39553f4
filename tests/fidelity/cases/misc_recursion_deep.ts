// Deep (but reasonable) recursion, as in tree walks and naive recursive solutions
function sumTo(n: number): number {
  return n === 0 ? 0 : n + sumTo(n - 1);
}
console.log(sumTo(5000));
type Tree = { value: number; child?: Tree };
let tree: Tree = { value: 0 };
for (let i = 1; i < 5000; i++) tree = { value: i, child: tree };
const depth = (t?: Tree): number => (t ? 1 + depth(t.child) : 0);
const total = (t?: Tree): number => (t ? t.value + total(t.child) : 0);
console.log(depth(tree), total(tree));
let nested: unknown = "leaf";
for (let i = 0; i < 5000; i++) nested = [nested];
const json = JSON.stringify(nested);
console.log(json.length, json.slice(0, 10), JSON.parse(json) instanceof Array);
const unwrap = (x: unknown): unknown => (Array.isArray(x) ? unwrap(x[0]) : x);
console.log(unwrap(nested), (nested as unknown[]).flat(Infinity));
const memo = new Map<number, bigint>();
const fib = (n: number): bigint => (n < 2 ? BigInt(n) : memo.get(n) ?? (memo.set(n, fib(n - 1) + fib(n - 2)), memo.get(n)!));
console.log(String(fib(3000)).length);
function runaway(n: number): number { return runaway(n + 1) + 1; }
try {
  runaway(0);
} catch (e) {
  console.log((e as Error).name, (e as Error).message);
}
const ackermann = (m: number, n: number): number => (m === 0 ? n + 1 : n === 0 ? ackermann(m - 1, 1) : ackermann(m - 1, ackermann(m, n - 1)));
console.log(ackermann(2, 3), ackermann(3, 3));
