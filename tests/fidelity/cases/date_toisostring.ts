const d = new Date("2024-03-15T14:30:45.123Z");
console.log(d.toISOString());
console.log(d.toJSON());
console.log(JSON.stringify({ createdAt: d }));
console.log(d.getTime(), d.valueOf(), +d);
console.log(new Date(0).toISOString());
console.log(new Date(Date.UTC(2000, 0, 1)).toISOString());
console.log(new Date(8.64e15).toISOString());
console.log(new Date(-1).toISOString());
console.log(new Date("invalid").getTime(), String(new Date("nope")));
try {
  new Date(NaN).toISOString();
} catch (e) {
  console.log((e as Error).name, (e as Error).message);
}
console.log(new Date(Date.UTC(-1, 0, 1)).toISOString(), new Date(Date.UTC(10000, 0, 1)).toISOString());
console.log(d.toUTCString());
console.log(d.getUTCDay(), d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours());
