// Newer built-ins that LLMs reach for
console.log(Object.entries({ b: 2, a: 1 }).toSorted(([a], [b]) => a.localeCompare(b)));
const err = new Error("outer", { cause: new Error("inner") });
console.log(err.message, (err.cause as Error).message);
console.log(typeof (Error as any).isError === "function" ? [(Error as any).isError(err), (Error as any).isError({ message: "x" })] : "no isError");
console.log("abc".at(-1), [1, 2].at(-1), "  padded  ".trimStart() + "|", "x".trimEnd());
console.log(globalThis === self, typeof globalThis.window, typeof globalThis.global, typeof structuredClone);
console.log(Number.parseFloat === parseFloat, Array.isArray([]), Symbol.asyncIterator.toString());
const ws = new WeakRef({ a: 1 });
console.log(typeof ws.deref());
const reg = new FinalizationRegistry(() => {});
console.log(Object.prototype.toString.call(reg));
const m = new Map<string, number>();
if (typeof (m as any).getOrInsert === "function") {
  (m as any).getOrInsert("a", 1);
  (m as any).getOrInsertComputed("b", (k: string) => k.length);
  console.log(m);
} else console.log("no getOrInsert");
console.log(typeof Atomics.pause, typeof SharedArrayBuffer);
console.log(Array.prototype[Symbol.unscopables]);
label: for (const i of [1, 2, 3]) { for (const j of [1, 2]) { if (i * j === 4) break label; console.log(i, j); } }
