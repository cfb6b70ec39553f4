const inputs = [
  "2024-03-15",
  "2024-03-15T10:20:30",
  "2024-03-15T10:20:30Z",
  "2024-03-15T10:20:30+05:30",
  "2024-03-15T10:20:30.123456Z",
  "March 15, 2024",
  "15 March 2024 10:00 UTC",
  "Fri, 15 Mar 2024 10:20:30 GMT",
  "2024/03/15",
  "03/15/2024",
  "2024-3-5",
  "Tue Mar 05 2024 10:00:00 GMT+0100",
  "20240315",
  "",
];
for (const s of inputs) {
  const t = Date.parse(s);
  console.log(JSON.stringify(s).padEnd(40), Number.isNaN(t) ? "Invalid" : new Date(t).toISOString());
}
