const log: string[] = [];
setTimeout(() => log.push("timeout 60"), 60); // 60 ms: a loaded machine cannot put it before the 0 ms timers
setTimeout(() => log.push("timeout 0 a"), 0);
setTimeout(() => log.push("timeout 0 b"));
queueMicrotask(() => log.push("microtask 1"));
Promise.resolve().then(() => log.push("promise then")).then(() => log.push("promise then 2"));
queueMicrotask(() => log.push("microtask 2"));
let ticks = 0;
const ticked = Promise.withResolvers<void>();
const interval = setInterval(() => {
  ticks++;
  if (ticks === 3) {
    clearInterval(interval);
    ticked.resolve();
  }
}, 2);
const cancelled = setTimeout(() => log.push("cancelled!"), 1);
clearTimeout(cancelled);
log.push("sync");
(async () => {
  log.push("async fn start");
  await null;
  log.push("after await");
})();
await Promise.all([ticked.promise, new Promise((r) => setTimeout(r, 150))]);
console.log(log.join("\n"));
console.log("interval ticks:", ticks);
console.log(typeof setTimeout(() => {}, 0), typeof setImmediate);
setTimeout(() => console.log("last timer (after main body)"), 0);
console.log("end of main body");
