interface Price { amount: number; currency: string; locale: string }

const prices: Price[] = [
  { amount: 1234.5, currency: "USD", locale: "en-US" },
  { amount: 1234.5, currency: "EUR", locale: "de-DE" },
  { amount: 1234.5, currency: "EUR", locale: "fr-FR" },
  { amount: 1234.5, currency: "JPY", locale: "ja-JP" },
  { amount: 1234.5, currency: "GBP", locale: "en-GB" },
  { amount: 1234567.5, currency: "INR", locale: "en-IN" },
  { amount: 99.999, currency: "CHF", locale: "de-CH" },
  { amount: -42.1, currency: "USD", locale: "en-US" },
  { amount: 1000, currency: "BRL", locale: "pt-BR" },
  { amount: 5.5, currency: "KRW", locale: "ko-KR" },
];

for (const p of prices) {
  const fmt = new Intl.NumberFormat(p.locale, { style: "currency", currency: p.currency });
  console.log(`${p.currency.padEnd(4)} ${p.locale.padEnd(6)} ${fmt.format(p.amount)}`);
}

const accounting = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", currencySign: "accounting" });
console.log(accounting.format(-1500));
console.log(new Intl.NumberFormat("en-US", { style: "currency", currency: "EUR", currencyDisplay: "name" }).format(2));
console.log(new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", currencyDisplay: "code" }).format(2));
console.log(new Intl.NumberFormat("en-US", { style: "currency", currency: "CAD", currencyDisplay: "narrowSymbol" }).format(2));
