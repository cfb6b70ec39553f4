const dtf = new Intl.DateTimeFormat("en-US", {
  year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit",
  hour12: false, timeZone: "America/Los_Angeles",
});
const d = new Date("2024-12-31T23:59:59Z");
const parts = dtf.formatToParts(d);
console.log(parts);
const get = (t: string) => parts.find((p) => p.type === t)?.value;
console.log(`${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}:${get("second")}`);
console.log(dtf.resolvedOptions());
const range = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeZone: "UTC" });
console.log(range.formatRange(new Date("2024-01-10T00:00:00Z"), new Date("2024-01-20T00:00:00Z")));
console.log(range.formatRange(new Date("2024-01-10T00:00:00Z"), new Date("2024-03-05T00:00:00Z")));
console.log(range.formatRangeToParts(new Date("2024-01-10T00:00:00Z"), new Date("2025-01-10T00:00:00Z")).map((p) => p.source + ":" + p.value).join("|"));
