const controller = new AbortController();
const { signal } = controller;
signal.addEventListener("abort", () => console.log("abort event, reason:", signal.reason));
signal.onabort = () => console.log("onabort fired");
console.log(signal.aborted);
controller.abort("user cancelled");
console.log(signal.aborted, signal.reason);
controller.abort("again");
console.log(signal.reason);
const c2 = new AbortController();
c2.abort();
console.log(c2.signal.reason instanceof DOMException, c2.signal.reason.name, c2.signal.reason.message);
try { c2.signal.throwIfAborted(); } catch (e) { console.log("thrown", (e as DOMException).name); }
const any = AbortSignal.any([new AbortController().signal, AbortSignal.abort("first")]);
console.log(any.aborted, any.reason);
const t = AbortSignal.timeout(10);
await new Promise((r) => t.addEventListener("abort", r));
console.log(t.reason.name, t.reason.message);
function cancellableDelay(ms: number, s: AbortSignal) {
  return new Promise<string>((resolve, reject) => {
    const id = setTimeout(() => resolve("done"), ms);
    s.addEventListener("abort", () => { clearTimeout(id); reject(s.reason); }, { once: true });
  });
}
const c3 = new AbortController();
setTimeout(() => c3.abort(new Error("too slow")), 5);
console.log(await cancellableDelay(300, c3.signal).catch((e) => `rejected: ${e.message}`));
