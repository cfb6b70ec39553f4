interface Repository<T extends { id: number }> {
  findById(id: number): T | undefined;
  save(item: T): void;
  all(): readonly T[];
}
class InMemoryRepo<T extends { id: number }> implements Repository<T> {
  private items = new Map<number, T>();
  findById(id: number) { return this.items.get(id); }
  save(item: T) { this.items.set(item.id, item); }
  all() { return [...this.items.values()]; }
}
type User = { id: number; name: string; email?: string };
const repo = new InMemoryRepo<User>();
repo.save({ id: 2, name: "Bob" });
repo.save({ id: 1, name: "Ann", email: "ann@x.io" });
console.log(repo.all(), repo.findById(1), repo.findById(9));
function pick<T, K extends keyof T>(obj: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, obj[k]])) as Pick<T, K>;
}
console.log(pick({ a: 1, b: "two", c: [3] }, "a", "c"));
type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
const patch: DeepPartial<{ a: { b: number; c: string } }> = { a: { b: 2 } };
console.log(patch);
class Result<T, E = Error> {
  private constructor(readonly ok: boolean, readonly value?: T, readonly error?: E) {}
  static ok<T>(v: T) { return new Result<T, never>(true, v); }
  static err<E>(e: E) { return new Result<never, E>(false, undefined, e); }
  map<U>(f: (v: T) => U): Result<U, E> { return this.ok ? Result.ok(f(this.value as T)) as any : (this as any); }
}
console.log(Result.ok(21).map((x) => x * 2), Result.err("bad").map((x: number) => x));
const memo = <A extends unknown[], R>(fn: (...a: A) => R) => {
  const cache = new Map<string, R>();
  return (...a: A): R => { const k = JSON.stringify(a); if (!cache.has(k)) cache.set(k, fn(...a)); return cache.get(k)!; };
};
let calls = 0;
const slowSquare = memo((n: number) => (calls++, n * n));
console.log(slowSquare(4), slowSquare(4), calls);
function assertNever(x: never): never { throw new Error("unexpected " + x); }
console.log(typeof assertNever);
const tuple: [string, number, ...boolean[]] = ["a", 1, true, false];
console.log(tuple, tuple.length);
