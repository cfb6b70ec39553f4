function* naturals() {
  let n = 1;
  while (true) yield n++;
}
console.log(naturals().filter((n) => n % 2 === 0).map((n) => n * n).take(5).toArray());
console.log(naturals().drop(10).take(3).toArray());
console.log(naturals().take(5).reduce((a, b) => a + b, 0));
console.log(naturals().some((n) => n > 100), naturals().take(3).every((n) => n < 10), naturals().find((n) => n * n > 50));
console.log([1, 2, 3].values().flatMap((x) => [x, x * 10]).toArray());
naturals().take(2).forEach((n) => console.log("each", n));
const it = Iterator.from({ next: () => ({ done: false, value: "x" }) });
console.log(it.take(3).toArray());
const m = new Map([["a", 1], ["b", 2], ["c", 3]]);
console.log(m.entries().filter(([, v]) => v > 1).map(([k]) => k.toUpperCase()).toArray());
console.log(typeof (Iterator as any).concat === "function" ? [...(Iterator as any).concat([1, 2], new Set([3]))] : "no concat");
console.log(Object.prototype.toString.call(naturals().map((x) => x)));
const zipped = typeof (Iterator as any).zip === "function";
console.log("Iterator.zip:", zipped);
