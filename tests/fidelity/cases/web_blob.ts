const blob = new Blob(["Hello, ", "Blob", new Uint8Array([33])], { type: "text/plain" });
console.log(blob.size, blob.type, await blob.text());
console.log(await blob.slice(7, 11).text(), new Uint8Array(await blob.slice(-1).arrayBuffer()));
console.log(blob);
const json = new Blob([JSON.stringify({ a: 1 })], { type: "application/json" });
console.log(JSON.parse(await json.text()));
const file = new File(["content"], "notes.txt", { type: "text/plain", lastModified: 1700000000000 });
console.log(file.name, file.size, file.type, file.lastModified, file instanceof Blob);
const reader = blob.stream().getReader();
let total = 0;
for (;;) {
  const { done, value } = await reader.read();
  if (done) break;
  total += value.length;
}
console.log("streamed bytes", total);
console.log(new Blob([]).size, new Blob(["é"]).size, (await new Blob(["é"]).bytes?.())?.length);
