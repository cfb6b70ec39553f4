// A typical "analyze this CSV" snippet
const csv = `date,region,product,units,unit_price
2024-01-05,North,Widget,10,2.50
2024-01-06,South,Gadget,3,10.00
2024-01-06,North,Gadget,7,10.00
2024-02-01,East,Widget,15,2.45
2024-02-03,South,Widget,8,2.50
2024-02-10,North,Doohickey,1,99.99`;
const [header, ...rows] = csv.trim().split("\n").map((l) => l.split(","));
const records = rows.map((r) => Object.fromEntries(header.map((h, i) => [h, isNaN(Number(r[i])) ? r[i] : Number(r[i])])) as Record<string, string | number>);
console.log(records.length, records[0]);
const revenueByRegion = records.reduce<Record<string, number>>((acc, r) => {
  acc[r.region as string] = (acc[r.region as string] ?? 0) + (r.units as number) * (r.unit_price as number);
  return acc;
}, {});
console.log(revenueByRegion);
const byMonth = Map.groupBy(records, (r) => String(r.date).slice(0, 7));
for (const [month, recs] of byMonth) {
  const revenue = recs.reduce((s, r) => s + (r.units as number) * (r.unit_price as number), 0);
  console.log(`${month}: ${recs.length} sales, ${revenue.toLocaleString("en-US", { style: "currency", currency: "USD" })}`);
}
const top = Object.entries(revenueByRegion).sort(([, a], [, b]) => b - a)[0];
console.log(`Top region: ${top[0]} (${top[1].toFixed(2)})`);
const fmt = (n: number) => n.toFixed(2).padStart(10);
console.log("Region".padEnd(8) + "Revenue".padStart(10));
for (const [region, revenue] of Object.entries(revenueByRegion)) console.log(region.padEnd(8) + fmt(revenue));
console.table(records.slice(0, 3));
const text = "the cat and the hat and the bat sat on the mat";
const freq = [...text.split(/\s+/).reduce((m, w) => m.set(w, (m.get(w) ?? 0) + 1), new Map<string, number>())].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
console.log(freq.slice(0, 3));
