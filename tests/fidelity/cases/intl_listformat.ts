const items = ["apples", "bananas", "cherries"];
for (const type of ["conjunction", "disjunction", "unit"] as const) {
  for (const style of ["long", "short", "narrow"] as const) {
    console.log(type, style, new Intl.ListFormat("en", { type, style }).format(items));
  }
}
for (const locale of ["de", "es", "ja", "zh", "ar", "en-GB"]) console.log(locale, new Intl.ListFormat(locale).format(items));
console.log(new Intl.ListFormat("en").format([]), "|", new Intl.ListFormat("en").format(["solo"]), "|", new Intl.ListFormat("en").format(["a", "b"]));
console.log(new Intl.ListFormat("en").formatToParts(["x", "y"]));
