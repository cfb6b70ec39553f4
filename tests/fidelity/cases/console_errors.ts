// Errors: print messages only (stack traces contain file paths)
class ValidationError extends Error {
  constructor(public field: string, message: string) {
    super(message);
    this.name = "ValidationError";
  }
}
const errs: unknown[] = [
  new Error("plain"),
  new TypeError("bad type"),
  new ValidationError("email", "invalid email"),
  new AggregateError([new Error("x")], "many"),
  new Error("with cause", { cause: "root cause" }),
  "a string was thrown",
  { message: "object thrown" },
  42,
];
for (const e of errs) {
  if (e instanceof Error) {
    console.log(`${e.name}: ${e.message}`, e.constructor.name, String(e), e instanceof ValidationError ? e.field : "-", e.cause ?? "");
  } else {
    console.log("non-error:", e);
  }
}
try {
  null!.toString();
} catch (e) {
  console.log((e as Error).message);
}
try {
  (undefined as any).foo.bar;
} catch (e) {
  console.log((e as Error).message);
}
try {
  (42 as any)();
} catch (e) {
  console.log((e as Error).message);
}
try {
  const obj: any = {};
  obj.method();
} catch (e) {
  console.log((e as Error).message);
}
try {
  // @ts-ignore
  notDefinedAnywhere + 1;
} catch (e) {
  console.log((e as Error).name, (e as Error).message);
}
try {
  const x = 1;
  // @ts-ignore
  x = 2;
} catch (e) {
  console.log((e as Error).name, (e as Error).message);
}
try { new Array(-1); } catch (e) { console.log((e as Error).message); }
try { "abc".repeat(-1); } catch (e) { console.log((e as Error).message); }
try { (1.5).toFixed(101); } catch (e) { console.log((e as Error).message); }
try { JSON.parse("{bad"); } catch (e) { console.log((e as Error).message); }
try { new (class A { #p = 1; static read(o: any) { return o.#p; } }).constructor; (class B { #q = 1; static r(o: any) { return o.#q; } }).r({}); } catch (e) { console.log((e as Error).message); }
try { Symbol() + ""; } catch (e) { console.log((e as Error).message); }
try { BigInt(1) + (1 as any); } catch (e) { console.log((e as Error).message); }
try { Object.defineProperty(Object.freeze({}), "x", { value: 1 }); } catch (e) { console.log((e as Error).message); }
try { [].reduce((a, b) => a); } catch (e) { console.log((e as Error).message); }
try { new Intl.NumberFormat("en", { style: "currency" }); } catch (e) { console.log((e as Error).message); }
try { decodeURIComponent("%"); } catch (e) { console.log((e as Error).name, (e as Error).message); }
const e = new Error("props");
console.log(Object.keys(e), typeof e.stack, e.stack!.split("\n")[0]);
