console.log(typeof Temporal);
if (typeof Temporal !== "undefined") {
  const date = Temporal.PlainDate.from("2024-01-31");
  console.log(date.toString(), date.add({ months: 1 }).toString(), date.add({ days: 30 }).toString());
  console.log(date.subtract({ years: 1, days: 1 }).toString(), date.dayOfWeek, date.dayOfYear, date.daysInMonth, date.inLeapYear);
  const until = date.until(Temporal.PlainDate.from("2024-12-25"));
  console.log(until.toString(), until.days, date.until("2024-12-25", { largestUnit: "months" }).toString());
  console.log(Temporal.PlainDate.compare(date, Temporal.PlainDate.from("2024-02-01")), date.equals("2024-01-31"));
  const d = Temporal.Duration.from({ hours: 25, minutes: 90 });
  console.log(d.toString(), d.round({ largestUnit: "days", relativeTo: "2024-01-01" }).toString(), d.total({ unit: "minutes" }));
  const zdt = Temporal.Instant.from("2024-03-10T06:30:00Z").toZonedDateTimeISO("America/New_York");
  console.log(zdt.toString(), zdt.add({ hours: 1 }).toString(), zdt.offset, zdt.hoursInDay);
  console.log(Temporal.PlainDateTime.from("2024-05-06T07:08:09").with({ hour: 23 }).toString());
  console.log(Temporal.PlainTime.from("23:30").add({ minutes: 45 }).toString(), Temporal.PlainYearMonth.from("2024-02").daysInMonth);
  console.log(date.toLocaleString("en-US", { dateStyle: "full" }), date);
  console.log(Temporal.Instant.fromEpochMilliseconds(0).toString(), Temporal.Instant.from("2024-01-01T00:00:00+02:00").epochMilliseconds);
  try { Temporal.PlainDate.from("2024-02-30"); } catch (e) { console.log((e as Error).name); }
  try { Temporal.PlainDate.from({ year: 2024, month: 2, day: 30 }, { overflow: "reject" }); } catch (e) { console.log((e as Error).name); }
  console.log(Temporal.PlainDate.from({ year: 2024, month: 2, day: 30 }).toString());
}
