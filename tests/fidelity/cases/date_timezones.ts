const meeting = new Date("2024-11-03T15:00:00Z");
const zones = ["UTC", "America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney", "Pacific/Chatham", "America/Sao_Paulo"];
for (const timeZone of zones) {
  console.log(timeZone.padEnd(20), meeting.toLocaleString("en-US", { timeZone }));
}
console.log(meeting.toLocaleString("en-GB", { timeZone: "Europe/London" }));
console.log(meeting.toLocaleString("de-DE", { timeZone: "Europe/Berlin" }));
console.log(meeting.toLocaleString("ja-JP", { timeZone: "Asia/Tokyo" }));
console.log(meeting.toLocaleDateString("en-US", { timeZone: "Asia/Tokyo", weekday: "long", year: "numeric", month: "long", day: "numeric" }));
console.log(meeting.toLocaleTimeString("en-US", { timeZone: "America/Chicago", timeZoneName: "short" }));
console.log(meeting.toLocaleTimeString("en-US", { timeZone: "Asia/Kolkata", timeZoneName: "long" }));
console.log(meeting.toLocaleString("en-US", { timeZone: "America/New_York", timeZoneName: "shortOffset" }));
// DST boundary in New York: 2024-11-03 06:00 UTC
for (const iso of ["2024-11-03T05:30:00Z", "2024-11-03T06:30:00Z", "2024-03-10T06:59:00Z", "2024-03-10T07:01:00Z"]) {
  console.log(iso, new Date(iso).toLocaleString("en-US", { timeZone: "America/New_York", timeZoneName: "short" }));
}
