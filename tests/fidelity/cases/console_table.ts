console.table([
  { name: "Alice", age: 30, city: "Paris" },
  { name: "Bob", age: 25 },
  { name: "Carol", city: "Zürich", extra: true },
]);
console.table([[1, 2], [3, 4, 5]]);
console.table({ a: { x: 1, y: 2 }, b: { x: 3, z: 4 } });
console.table([{ name: "Alice", age: 30 }, { name: "Bob", age: 25 }], ["name"]);
console.table(["apples", "oranges", "日本語"]);
console.table(new Map([["k1", { v: 1 }], ["k2", { v: 2 }]]));
console.table("not tabular");
console.table([{ emoji: "😀👍", wide: "全角文字" }, { emoji: "x", wide: "y" }]);
console.table([{ nested: { deep: [1, 2] }, n: null, u: undefined, f: () => 1 }]);
