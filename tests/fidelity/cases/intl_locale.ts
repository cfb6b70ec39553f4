const loc = new Intl.Locale("en-Latn-US-u-ca-gregory-hc-h12-nu-latn");
console.log(loc.toString(), loc.baseName, loc.language, loc.script, loc.region, loc.calendar, loc.hourCycle, loc.numberingSystem);
console.log(new Intl.Locale("zh").maximize().toString(), new Intl.Locale("zh-Hant-TW").minimize().toString());
console.log(new Intl.Locale("ar-EG").getTextInfo?.(), new Intl.Locale("he").getTextInfo?.());
console.log(new Intl.Locale("ja-JP").getCalendars?.(), new Intl.Locale("en-US").getHourCycles?.());
console.log(Intl.getCanonicalLocales(["EN-us", "zh-hant-tw", "iw"]));
console.log(Intl.supportedValuesOf("currency").length > 100, Intl.supportedValuesOf("calendar"));
console.log(Intl.supportedValuesOf("unit").slice(0, 8));
console.log(Intl.supportedValuesOf("timeZone").includes("America/New_York"), Intl.supportedValuesOf("timeZone").length > 300);
