const names = ["Émile", "eve", "Zoë", "zach", "Ålesund", "adam", "Øystein", "Ängelholm", "ölaf", "Çelik", "cedric", "Ñandú", "nina"];
console.log([...names].sort());
console.log([...names].sort((a, b) => a.localeCompare(b)));
console.log([...names].sort((a, b) => a.localeCompare(b, "sv")));
console.log([...names].sort((a, b) => a.localeCompare(b, "de")));
console.log([...names].sort((a, b) => a.localeCompare(b, "es")));
console.log("a".localeCompare("B"), "a".localeCompare("b"), "résumé".localeCompare("resume"), "resume".localeCompare("résumé", "en", { sensitivity: "base" }));
console.log("ä".localeCompare("z", "de"), "ä".localeCompare("z", "sv"));
