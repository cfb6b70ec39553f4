const nf = new Intl.NumberFormat("de-DE", { style: "currency", currency: "EUR" });
console.log(nf.formatToParts(-1234.56));
console.log(nf.resolvedOptions());
const range = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
console.log(range.formatRange(3, 5));
console.log(new Intl.NumberFormat("es-ES").formatRange(1000, 5000));
console.log(Intl.NumberFormat.supportedLocalesOf(["en-US", "xx-XX", "de"]));
