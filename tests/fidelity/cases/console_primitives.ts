console.log(1, -0, 0, 1.0, 1e21, 1e-7, NaN, -Infinity, 0xff, 0o17, 0b101, 1_000_000);
console.log("str", true, null, undefined, 10n, Symbol(), Symbol("desc"), Symbol.for("reg"), Symbol.iterator);
console.log(["str", 1, true, null, undefined, 10n, Symbol("s")]);
console.log({ s: "str", n: 1, b: true, nul: null, u: undefined, big: 10n, sym: Symbol("s") });
console.log(new Number(5), new String("boxed"), new Boolean(false), Object(1n), Object(Symbol("boxed")));
console.log(new Date(Date.UTC(2020, 0, 1)), [new Date(NaN)], { d: new Date(0) });
console.log(/re(g)ex/gi, [/x/], new RegExp("a/b"));
console.log(function namedFn() {}, () => {}, async () => {}, function* gen() {}, class K {}, Math.max, [].map);
console.log(globalThis.Math, JSON, Reflect, Atomics);
console.log(new Promise(() => {}), Promise.resolve(42), Promise.reject(new Error("x")).catch(() => {}) && "handled");
const rejected = Promise.reject(5);
rejected.catch(() => {});
console.log(rejected);
console.log(new ArrayBuffer(4), new DataView(new ArrayBuffer(2)), new SharedArrayBuffer(2));
console.log(new WeakRef({}), Symbol.prototype, Object.prototype, Array.prototype, Function.prototype);
console.log(arguments_like(1, 2));
function arguments_like(..._a: number[]) { return arguments; }
console.log(-0 + "", String(-0), [-0], `${-0}`, JSON.stringify(-0), (-0).toString(), (-0).toFixed(1));
