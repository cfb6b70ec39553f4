const pr = new Intl.PluralRules("en-US");
const ord = new Intl.PluralRules("en-US", { type: "ordinal" });
const suffixes: Record<string, string> = { one: "st", two: "nd", few: "rd", other: "th" };
const ordinal = (n: number) => `${n}${suffixes[ord.select(n)]}`;
console.log([0, 1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112].map(ordinal).join(", "));
const itemLabel = (n: number) => `${n} item${pr.select(n) === "one" ? "" : "s"}`;
console.log([0, 1, 2, 1.5].map(itemLabel));
for (const locale of ["ar", "ru", "pl", "cy", "ja", "fr", "he"]) {
  const rules = new Intl.PluralRules(locale);
  console.log(locale, [0, 1, 2, 3, 5, 11, 21, 100, 1.5].map((n) => rules.select(n)).join(" "));
}
console.log(new Intl.PluralRules("ar").resolvedOptions().pluralCategories);
console.log(new Intl.PluralRules("en", { minimumFractionDigits: 1 }).select(1));
console.log(typeof new Intl.PluralRules("en").selectRange === "function" ? new Intl.PluralRules("en").selectRange(1, 5) : "n/a");
