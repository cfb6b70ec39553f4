const followers = [999, 1000, 1234, 15300, 999999, 1_250_000, 3_400_000_000];
const short = new Intl.NumberFormat("en", { notation: "compact" });
const long = new Intl.NumberFormat("en", { notation: "compact", compactDisplay: "long" });
const ja = new Intl.NumberFormat("ja-JP", { notation: "compact" });
const de = new Intl.NumberFormat("de", { notation: "compact" });
for (const n of followers) {
  console.log(n, short.format(n), long.format(n), ja.format(n), de.format(n));
}
console.log(new Intl.NumberFormat("en", { notation: "scientific" }).format(123456789));
console.log(new Intl.NumberFormat("en", { notation: "engineering" }).format(123456789));
console.log(new Intl.NumberFormat("en", { maximumSignificantDigits: 3 }).format(123456.789));
console.log(new Intl.NumberFormat("en", { minimumIntegerDigits: 3 }).format(7));
console.log(new Intl.NumberFormat("en", { signDisplay: "always" }).format(5), new Intl.NumberFormat("en", { signDisplay: "exceptZero" }).format(0));
console.log(new Intl.NumberFormat("en-US", { roundingMode: "floor", maximumFractionDigits: 0 }).format(2.9));
console.log(new Intl.NumberFormat("en-US", { useGrouping: false }).format(1234567));
