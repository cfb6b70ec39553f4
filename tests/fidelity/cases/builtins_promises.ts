const { promise, resolve, reject } = Promise.withResolvers<number>();
setTimeout(() => resolve(42), 5);
console.log("awaited", await promise);

const results = await Promise.allSettled([
  Promise.resolve(1),
  Promise.reject(new Error("nope")),
  new Promise((r) => setTimeout(() => r("late"), 10)),
]);
console.log(results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message)));
console.log(await Promise.race([new Promise((r) => setTimeout(() => r("slow"), 200)), new Promise((r) => setTimeout(() => r("fast"), 1))]));
console.log(await Promise.any([Promise.reject(1), Promise.resolve(2)]));
try {
  await Promise.any([Promise.reject(new Error("a")), Promise.reject(new Error("b"))]);
} catch (e) {
  const agg = e as AggregateError;
  console.log(agg.constructor.name, agg.message, agg.errors.map((x: Error) => x.message));
}
console.log(await Promise.all([1, Promise.resolve(2), (async () => 3)()]));
if (typeof (Promise as any).try === "function") console.log(await (Promise as any).try(() => "tried"));
const { promise: p2, reject: rej } = Promise.withResolvers<void>();
rej(new TypeError("rejected later"));
await p2.catch((e) => console.log("caught", e.name, e.message));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const order: string[] = [];
// 60+ ms between deadlines: a loaded machine must not be able to reorder them.
await Promise.all([sleep(150).then(() => order.push("150")), sleep(5).then(() => order.push("5")), sleep(80).then(() => order.push("80"))]);
console.log(order);
void reject;
