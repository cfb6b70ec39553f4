const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const rtfAlways = new Intl.RelativeTimeFormat("en", { numeric: "always", style: "short" });
const cases: Array<[number, Intl.RelativeTimeFormatUnit]> = [[-1, "day"], [0, "day"], [1, "day"], [2, "day"], [-3, "hour"], [-1, "week"], [1, "month"], [-1, "year"], [5, "minute"], [-30, "second"], [1, "quarter"]];
for (const [v, u] of cases) console.log(v, u, "|", rtf.format(v, u), "|", rtfAlways.format(v, u));
for (const locale of ["de", "es", "ja", "fr"]) {
  const f = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  console.log(locale, f.format(-1, "day"), "/", f.format(2, "week"));
}
console.log(rtf.formatToParts(100, "day"));
// "time ago" helper using a fixed "now"
function timeAgo(then: number, now: number) {
  const diff = (then - now) / 1000;
  const units: Array<[Intl.RelativeTimeFormatUnit, number]> = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  for (const [unit, secs] of units) if (Math.abs(diff) >= secs || unit === "second") return rtf.format(Math.round(diff / secs), unit);
}
const now = Date.UTC(2024, 5, 1, 12);
console.log([now - 45e3, now - 3 * 3600e3, now - 86400e3, now + 10 * 86400e3, now - 400 * 86400e3].map((t) => timeAgo(t, now)));
