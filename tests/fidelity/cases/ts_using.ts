class TempResource implements Disposable {
  constructor(public name: string) { console.log(`open ${name}`); }
  [Symbol.dispose]() { console.log(`dispose ${this.name}`); }
}
class AsyncConn implements AsyncDisposable {
  constructor(public id: number) { console.log(`connect ${id}`); }
  async [Symbol.asyncDispose]() { await new Promise((r) => setTimeout(r, 1)); console.log(`disconnect ${this.id}`); }
}
function work() {
  using a = new TempResource("a");
  using b = new TempResource("b");
  console.log("working with", a.name, b.name);
  return "work result";
}
console.log(work());
async function asyncWork() {
  await using conn = new AsyncConn(1);
  using tmp = new TempResource("tmp");
  console.log("querying", conn.id, tmp.name);
}
await asyncWork();
{
  using stack = new DisposableStack();
  stack.defer(() => console.log("deferred 1"));
  stack.use(new TempResource("stacked"));
  stack.defer(() => console.log("deferred 2"));
  console.log("end of block");
}
try {
  using bad = { [Symbol.dispose]() { throw new Error("dispose failed"); } };
  throw new Error("body failed");
} catch (e) {
  console.log((e as Error).constructor.name, (e as any).message, (e as any).error?.message, (e as any).suppressed?.message);
}
console.log(typeof Symbol.dispose, typeof Symbol.asyncDispose, typeof AsyncDisposableStack);
