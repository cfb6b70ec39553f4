// Work still pending when the last statement has run: deno waits for the event loop to drain.
// The deadlines are 60+ ms apart so that a loaded machine (tests run side by side) cannot reorder them.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function main() {
  console.log("main start");
  await sleep(10);
  console.log("main after 10ms");
}
main(); // not awaited, as LLM code often does
setTimeout(() => console.log("timer at 250ms"), 250);
sleep(70).then(() => console.log("floating promise at 70ms"));
const interval = setInterval(() => {
  console.log("interval tick");
  clearInterval(interval);
}, 160);
console.log("last statement");
({ status: "returned before the timers fire" });
