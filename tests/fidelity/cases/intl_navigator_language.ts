// navigator.language follows the process locale (LANG) in deno, like Intl's default locale.
console.log(navigator.language, navigator.languages);
console.log(navigator.language === new Intl.NumberFormat().resolvedOptions().locale);
const greeting = navigator.language.startsWith("de") ? "Hallo" : "Hello";
console.log(greeting, new Intl.DisplayNames([navigator.language], { type: "language" }).of(navigator.language));
