const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function retry<T>(fn: (attempt: number) => Promise<T>, attempts = 3, delay = 2): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn(i);
    } catch (e) {
      console.log(`attempt ${i} failed: ${(e as Error).message}`);
      if (i >= attempts) throw e;
      await sleep(delay * i);
    }
  }
}
console.log(await retry(async (n) => { if (n < 3) throw new Error(`flaky #${n}`); return "success on " + n; }));
await retry(async () => { throw new Error("always"); }, 2).catch((e) => console.log("gave up:", e.message));
async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: number | undefined;
  const timeout = new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`timed out after ${ms}ms`)), ms); });
  try { return await Promise.race([p, timeout]); } finally { clearTimeout(timer); }
}
console.log(await withTimeout(sleep(1).then(() => "fast enough"), 1000));
console.log(await withTimeout(sleep(100).then(() => "too slow"), 5).catch((e) => e.message));
async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0, active = 0, maxActive = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      active++; maxActive = Math.max(maxActive, active);
      results[i] = await fn(items[i]);
      active--;
    }
  }));
  console.log("max concurrency", maxActive);
  return results;
}
console.log(await mapLimit([5, 1, 3, 2, 4], 2, async (x) => { await sleep(x); return x * 10; }));
async function* ticker(n: number) { for (let i = 0; i < n; i++) { await sleep(1); yield i; } }
for await (const t of ticker(3)) console.log("tick", t);
const results = [];
for (const p of [sleep(3).then(() => "a"), Promise.resolve("b")]) results.push(await p);
console.log(results);
(async () => { throw new Error("handled later"); })().catch((e) => console.log("caught async:", e.message));
await sleep(1);
console.log("finished");
