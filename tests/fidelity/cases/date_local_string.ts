// These depend on the process time zone and default locale (the test runs both with the same TZ/LANG).
const d = new Date("2024-07-04T18:05:09Z");
console.log(d.toString());
console.log(d.toDateString());
console.log(d.toTimeString());
console.log(d.toLocaleString());
console.log(d.toLocaleDateString());
console.log(d.toLocaleTimeString());
console.log(String(d));
console.log(`${d}`);
console.log(d.getTimezoneOffset(), d.getHours(), d.getDate());
console.log(new Date(2024, 0, 15, 9, 30).toISOString());
console.log(new Date("2024-01-15").toISOString(), new Date("2024-01-15T00:00").toISOString());
const winter = new Date("2024-01-10T12:00:00Z");
console.log(winter.toString(), winter.getTimezoneOffset());
console.log(Intl.DateTimeFormat().resolvedOptions().timeZone);
