// Environment-dependent defaults: must agree with deno given the same TZ/LANG.
console.log(new Intl.NumberFormat().resolvedOptions().locale);
console.log(Intl.DateTimeFormat().resolvedOptions());
console.log(new Intl.Collator().resolvedOptions().locale);
console.log((1234.5).toLocaleString(), new Date(Date.UTC(2024, 0, 2, 3, 4, 5)).toLocaleString());
console.log(typeof navigator.userAgent, navigator.hardwareConcurrency > 0);
