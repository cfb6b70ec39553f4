const inventory = [
  { name: "asparagus", type: "vegetables", quantity: 5 },
  { name: "bananas", type: "fruit", quantity: 0 },
  { name: "goat", type: "meat", quantity: 23 },
  { name: "cherries", type: "fruit", quantity: 5 },
  { name: "fish", type: "meat", quantity: 22 },
];
const byType = Object.groupBy(inventory, ({ type }) => type);
console.log(byType);
console.log(Object.getPrototypeOf(byType), Object.keys(byType));
const restock = { restock: true };
const sufficient = { restock: false };
const byStock = Map.groupBy(inventory, ({ quantity }) => (quantity < 6 ? restock : sufficient));
console.log(byStock.get(restock));
console.log(byStock);
const byLength = Object.groupBy(["one", "two", "three", "four", "five", "six"], (w) => w.length);
console.log(byLength);
// Totals per group
const totals = Object.fromEntries(Object.entries(byType).map(([k, v]) => [k, v!.reduce((s, i) => s + i.quantity, 0)]));
console.log(totals);
