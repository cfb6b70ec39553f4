// Date arithmetic with fixed timestamps
const start = new Date("2024-01-31T10:00:00Z");

function addDays(date: Date, days: number): Date {
  const d = new Date(date);
  d.setUTCDate(d.getUTCDate() + days);
  return d;
}
function addMonths(date: Date, months: number): Date {
  const d = new Date(date);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d;
}
function daysBetween(a: Date, b: Date): number {
  return Math.round((b.getTime() - a.getTime()) / 86_400_000);
}

console.log(addDays(start, 1).toISOString());
console.log(addDays(start, 30).toISOString());
console.log(addMonths(start, 1).toISOString(), "(month overflow)");
console.log(daysBetween(start, new Date("2024-12-25T10:00:00Z")));
console.log(daysBetween(new Date("2023-03-01"), new Date("2024-03-01")), "days in leap span");
const isLeap = (y: number) => new Date(Date.UTC(y, 1, 29)).getUTCMonth() === 1;
console.log([1900, 2000, 2023, 2024, 2100].map((y) => `${y}:${isLeap(y)}`).join(" "));
const weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
console.log(weekdays[new Date("2024-07-04T12:00:00Z").getUTCDay()]);
const age = (birth: string, on: string) => {
  const b = new Date(birth), o = new Date(on);
  let years = o.getUTCFullYear() - b.getUTCFullYear();
  if (o.getUTCMonth() < b.getUTCMonth() || (o.getUTCMonth() === b.getUTCMonth() && o.getUTCDate() < b.getUTCDate())) years--;
  return years;
};
console.log(age("1990-08-15", "2024-08-14"), age("1990-08-15", "2024-08-15"));
const lastDayOfMonth = (y: number, m: number) => new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
console.log(Array.from({ length: 12 }, (_, m) => lastDayOfMonth(2024, m)));
const ms = new Date("2024-03-15T12:00:00Z").getTime() - new Date("2024-03-14T09:30:15Z").getTime();
const h = Math.floor(ms / 3_600_000), mi = Math.floor((ms % 3_600_000) / 60_000), s = (ms % 60_000) / 1000;
console.log(`${h}h ${mi}m ${s}s`);
