interface Order { id: number; customer: string; items: { sku: string; qty: number; price: number }[]; shipped?: boolean }
const orders: Order[] = [
  { id: 1, customer: "Ana", items: [{ sku: "A1", qty: 2, price: 9.99 }, { sku: "B2", qty: 1, price: 24.5 }], shipped: true },
  { id: 2, customer: "Björn", items: [{ sku: "C3", qty: 10, price: 0.35 }] },
];
const summary = orders.map((o) => ({
  id: o.id,
  customer: o.customer,
  total: Math.round(o.items.reduce((s, i) => s + i.qty * i.price, 0) * 100) / 100,
  shipped: o.shipped ?? false,
}));
console.log(JSON.stringify(summary, null, 2));
console.log(JSON.stringify(summary, null, "\t"));
console.log(JSON.stringify({ orders }, null, 1).split("\n").length);
console.log(summary);
console.log(JSON.stringify(orders[0]));
