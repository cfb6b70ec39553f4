async function* numbers() {
  for (let i = 1; i <= 5; i++) {
    await new Promise((r) => setTimeout(r, 1));
    yield i;
  }
}
console.log(await Array.fromAsync(numbers()));
console.log(await Array.fromAsync(numbers(), (n) => n * 10));
console.log(await Array.fromAsync([Promise.resolve("a"), "b", Promise.resolve("c")]));
console.log(await Array.fromAsync({ length: 3, 0: "x", 1: "y", 2: "z" }));
// Paginated fetch simulation
async function* paginate(pages: string[][]) {
  for (const [i, page] of pages.entries()) {
    console.log(`loading page ${i + 1}`);
    yield* page;
  }
}
const all = await Array.fromAsync(paginate([["a", "b"], ["c"], ["d", "e"]]));
console.log(all.join(""));
for await (const x of paginate([["q"]])) console.log("got", x);
