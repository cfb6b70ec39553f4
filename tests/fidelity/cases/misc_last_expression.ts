// Typical LLM ending: compute, log, and leave a value as the last expression.
interface Item { name: string; price: number; qty: number }
const cart: Item[] = [
  { name: "Keyboard", price: 49.99, qty: 1 },
  { name: "Mouse", price: 19.5, qty: 2 },
  { name: "USB-C cable", price: 9.99, qty: 3 },
];
const subtotal = cart.reduce((s, i) => s + i.price * i.qty, 0);
const tax = Math.round(subtotal * 0.0825 * 100) / 100;
console.log(`Subtotal: $${subtotal.toFixed(2)}`);
console.log(`Tax: $${tax.toFixed(2)}`);
console.log(`Total: $${(subtotal + tax).toFixed(2)}`);
const receipt = { items: cart.length, subtotal, tax, total: subtotal + tax };
receipt;
