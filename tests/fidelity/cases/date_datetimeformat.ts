const date = new Date(Date.UTC(2024, 1, 29, 8, 7, 6, 5));
const options: Intl.DateTimeFormatOptions[] = [
  { dateStyle: "full", timeStyle: "long", timeZone: "UTC" },
  { dateStyle: "medium", timeZone: "UTC" },
  { dateStyle: "short", timeStyle: "short", timeZone: "UTC" },
  { year: "2-digit", month: "2-digit", day: "2-digit", timeZone: "UTC" },
  { month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZone: "UTC" },
  { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZone: "UTC" },
  { hour: "numeric", hourCycle: "h23", timeZone: "UTC" },
  { weekday: "short", era: "short", timeZone: "UTC" },
  { fractionalSecondDigits: 3, second: "numeric", timeZone: "UTC" },
  { dayPeriod: "long", hour: "numeric", timeZone: "UTC" },
  { month: "long", timeZone: "UTC", calendar: "hebrew" },
  { year: "numeric", month: "long", timeZone: "UTC", calendar: "japanese" },
];
for (const o of options) {
  console.log(JSON.stringify(o), "=>", new Intl.DateTimeFormat("en-US", o).format(date));
}
for (const locale of ["en-US", "en-GB", "de-DE", "fr-FR", "es-MX", "zh-CN", "ar-SA", "hi-IN", "ko-KR", "ru-RU"]) {
  console.log(locale, new Intl.DateTimeFormat(locale, { dateStyle: "long", timeStyle: "short", timeZone: "Europe/Paris" }).format(date));
}
