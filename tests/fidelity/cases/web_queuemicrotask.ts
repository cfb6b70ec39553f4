console.log("1 sync");
setTimeout(() => console.log("6 macrotask"), 0);
queueMicrotask(() => {
  console.log("3 microtask");
  queueMicrotask(() => console.log("5 nested microtask"));
});
Promise.resolve().then(() => console.log("4 promise"));
console.log("2 sync");
async function main() {
  console.log("a");
  await undefined;
  console.log("c");
  await new Promise((r) => setTimeout(r, 0));
  console.log("e after macrotask");
}
main().then(() => console.log("f main done"));
console.log("b");
queueMicrotask(() => console.log("d"));
