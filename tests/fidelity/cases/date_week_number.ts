// ISO week number, quarter, day of year
function isoWeek(date: Date): [number, number] {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const yearStart = new Date(Date.UTC(d.getUTCFullYear(), 0, 1));
  const week = Math.ceil(((d.getTime() - yearStart.getTime()) / 86400000 + 1) / 7);
  return [d.getUTCFullYear(), week];
}
const dayOfYear = (d: Date) => Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 0)) / 86400000);
for (const s of ["2024-01-01", "2024-12-30", "2021-01-03", "2026-06-15", "2020-12-31"]) {
  const d = new Date(s + "T00:00:00Z");
  const [y, w] = isoWeek(d);
  console.log(s, `W${String(w).padStart(2, "0")}-${y}`, "Q" + (Math.floor(d.getUTCMonth() / 3) + 1), "day", dayOfYear(d));
}
const locale = new Intl.Locale("en-US");
console.log(typeof (locale as any).getWeekInfo === "function" ? (locale as any).getWeekInfo() : (locale as any).weekInfo);
console.log(new Intl.Locale("de-DE").getWeekInfo?.());
