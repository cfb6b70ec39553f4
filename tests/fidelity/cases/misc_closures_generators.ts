function makeCounter(start = 0) {
  let count = start;
  return { inc: () => ++count, dec: () => --count, get value() { return count; } };
}
const c = makeCounter(10);
c.inc(); c.inc(); c.dec();
console.log(c.value, c);
const fns: Array<() => number> = [];
for (var i = 0; i < 3; i++) fns.push(() => i);
const fns2: Array<() => number> = [];
for (let j = 0; j < 3; j++) fns2.push(() => j);
console.log(fns.map((f) => f()), fns2.map((f) => f()));
function* fibonacci(): Generator<number, string, number | undefined> {
  let [a, b] = [0, 1];
  while (a < 100) {
    const reset = yield a;
    if (reset) [a, b] = [0, 1];
    else [a, b] = [b, a + b];
  }
  return "done";
}
console.log([...fibonacci()]);
const g = fibonacci();
console.log(g.next(), g.next(), g.next(), g.next(1), g.return("early"), g.next());
function* delegating() { yield* [1, 2]; const r = yield* (function* () { yield 3; return "inner"; })(); yield r; }
console.log([...delegating()]);
const debounceLog: string[] = [];
function debounce<T extends (...a: any[]) => void>(fn: T, ms: number) {
  let t: number | undefined;
  return (...a: Parameters<T>) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}
const d = debounce((x: string) => debounceLog.push(x), 10);
d("a"); d("b"); d("c");
await new Promise((r) => setTimeout(r, 30));
console.log(debounceLog);
const curry = (f: (...a: number[]) => number) => function curried(this: unknown, ...a: number[]): any { return a.length >= f.length ? f(...a) : (...b: number[]) => curried(...a, ...b); };
console.log(curry((a, b, c) => a + b + c)(1)(2)(3));
const compose = (...fs: Array<(x: any) => any>) => (x: any) => fs.reduceRight((acc, f) => f(acc), x);
console.log(compose((x: number) => x + 1, (x: number) => x * 2)(5));
