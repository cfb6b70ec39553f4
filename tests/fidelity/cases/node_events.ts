import { EventEmitter, once } from "node:events";
class Job extends EventEmitter {
  run(steps: number) {
    this.emit("start", { steps });
    for (let i = 1; i <= steps; i++) this.emit("progress", i, steps);
    this.emit("done");
    return this;
  }
}
const job = new Job();
job.on("start", (info) => console.log("start", info));
job.on("progress", (i: number, n: number) => console.log(`progress ${i}/${n}`));
job.once("done", () => console.log("done (once)"));
job.prependListener("start", () => console.log("prepended start listener"));
job.run(3).run(1);
console.log(job.listenerCount("progress"), job.eventNames(), job.getMaxListeners());
job.removeAllListeners("progress");
console.log(job.listenerCount("progress"));
const errs = new EventEmitter();
try { errs.emit("error", new Error("unhandled emitter error")); } catch (e) { console.log("caught:", (e as Error).message); }
errs.on("error", (e) => console.log("handled:", e.message));
errs.emit("error", new Error("second"));
const ee = new EventEmitter();
setTimeout(() => ee.emit("ready", 42, "extra"), 1);
console.log("once resolved with", await once(ee, "ready"));
console.log(EventEmitter.defaultMaxListeners, typeof EventEmitter.on);
const emitter = new EventEmitter();
emitter.on("x", function (this: EventEmitter) { console.log("this is emitter:", this === emitter); });
emitter.emit("x");
console.log(emitter.emit("nobody-listens"));
