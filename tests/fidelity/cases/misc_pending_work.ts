// Work still pending when the last statement has run: deno waits for the event loop to drain.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function main() {
  console.log("main start");
  await sleep(10);
  console.log("main after 10ms");
}
main(); // not awaited, as LLM code often does
setTimeout(() => console.log("timer at 40ms"), 40);
sleep(20).then(() => console.log("floating promise at 20ms"));
const interval = setInterval(() => {
  console.log("interval tick");
  clearInterval(interval);
}, 30);
console.log("last statement");
({ status: "returned before the timers fire" });
