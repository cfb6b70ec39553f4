if (typeof (Intl as any).DurationFormat === "function") {
  const DF = (Intl as any).DurationFormat;
  const d = { hours: 1, minutes: 46, seconds: 40 };
  console.log(new DF("en", { style: "long" }).format(d));
  console.log(new DF("en", { style: "short" }).format(d));
  console.log(new DF("en", { style: "narrow" }).format(d));
  console.log(new DF("en", { style: "digital" }).format(d));
  console.log(new DF("fr", { style: "long" }).format({ days: 2, hours: 3 }));
  console.log(new DF("es", { style: "short" }).format({ years: 1, months: 2, weeks: 3 }));
} else {
  console.log("Intl.DurationFormat unavailable");
}
