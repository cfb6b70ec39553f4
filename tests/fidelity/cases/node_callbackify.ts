// In Deno 2.9.8 the callbacks of util.callbackify are queued with process.nextTick and only run
// once something else has started the nextTick queue: here they are lost, and only the timer
// prints. Kept to pin that behaviour (our runtime must do the same).
import util from "node:util";
const double = util.callbackify(async (x: number) => x * 2);
double(21, (err: unknown, v?: number) => console.log("callbackify (async fn):", err, v));
const fromPromise = util.callbackify((x: number) => Promise.resolve(x + 1));
fromPromise(1, (err: unknown, v?: number) => console.log("callbackify (promise):", err, v));
setTimeout(() => console.log("timer fired"), 20);
