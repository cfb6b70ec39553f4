const validator = new Proxy({} as Record<string, number>, {
  set(target, prop, value) {
    if (typeof value !== "number") throw new TypeError(`${String(prop)} must be a number, got ${typeof value}`);
    return Reflect.set(target, prop, value);
  },
  get(target, prop) {
    return prop in target ? Reflect.get(target, prop) : `<no ${String(prop)}>`;
  },
});
validator.age = 30;
console.log(validator.age, validator.missing);
try { (validator as any).age = "old"; } catch (e) { console.log((e as Error).message); }
const logged: string[] = [];
const watched = new Proxy({ a: 1, nested: { b: 2 } }, {
  get(t, p, r) { logged.push(`get ${String(p)}`); return Reflect.get(t, p, r); },
  has(t, p) { logged.push(`has ${String(p)}`); return Reflect.has(t, p); },
  ownKeys(t) { logged.push("ownKeys"); return Reflect.ownKeys(t); },
});
void watched.a; void ("a" in watched); Object.keys(watched);
console.log(logged);
console.log(Reflect.ownKeys({ b: 1, a: 2, 1: "x", [Symbol("s")]: 0 }), Reflect.apply(Math.max, null, [1, 3, 2]));
console.log(Reflect.construct(Date, [0]).toISOString(), Reflect.getPrototypeOf([]) === Array.prototype, Reflect.defineProperty({}, "x", { value: 1 }));
const negativeArray = (arr: number[]) => new Proxy(arr, { get: (t, p, r) => (typeof p === "string" && /^-\d+$/.test(p) ? t[t.length + Number(p)] : Reflect.get(t, p, r)) });
console.log(negativeArray([1, 2, 3])[-1 as any]);
const { proxy, revoke } = Proxy.revocable({}, {});
revoke();
try { (proxy as any).x; } catch (e) { console.log((e as Error).message); }
const sym = Symbol("id");
const tagged = { [sym]: 1, regular: 2 };
console.log(Object.keys(tagged), Object.getOwnPropertySymbols(tagged), JSON.stringify(tagged), sym.description);
console.log(Object.getOwnPropertyDescriptor({ get x() { return 1; } }, "x"), Object.getOwnPropertyDescriptors({ a: 1 }));
