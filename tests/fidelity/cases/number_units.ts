const units: Array<[string, number]> = [
  ["kilometer-per-hour", 88],
  ["celsius", 21.5],
  ["fahrenheit", 70],
  ["megabyte", 512],
  ["gigabyte", 1.5],
  ["liter", 2],
  ["kilogram", 75.3],
  ["percent", 42],
  ["mile", 26.2],
  ["second", 30],
];
for (const [unit, value] of units) {
  const short = new Intl.NumberFormat("en-US", { style: "unit", unit }).format(value);
  const long = new Intl.NumberFormat("en-US", { style: "unit", unit, unitDisplay: "long" }).format(value);
  const narrow = new Intl.NumberFormat("de-DE", { style: "unit", unit, unitDisplay: "narrow" }).format(value);
  console.log(`${unit}: ${short} | ${long} | ${narrow}`);
}
