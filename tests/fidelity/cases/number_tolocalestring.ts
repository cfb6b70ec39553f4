// Formatting numbers for a report
const values = [0, 1, -1, 1234.5, 1234567.891, 0.000123, 1e21, -0, NaN, Infinity];
for (const v of values) {
  console.log(`${v} -> ${v.toLocaleString()} | en-US: ${v.toLocaleString("en-US")} | de-DE: ${v.toLocaleString("de-DE")}`);
}
console.log((1234567.891).toLocaleString("en-IN"));
console.log((1234567.891).toLocaleString("fr-FR"));
console.log((1234567.891).toLocaleString("ar-EG"));
console.log((1234567.891).toLocaleString("zh-CN", { maximumFractionDigits: 1 }));
console.log((0.5).toLocaleString("en-US", { style: "percent" }));
