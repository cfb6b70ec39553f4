const files = ["file10.txt", "file2.txt", "File1.txt", "file1.txt", "file20.txt", "file3.txt", "img12.png", "img2.png", "IMG1.png"];
const natural = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
console.log(files.toSorted(natural.compare));
console.log(files.toSorted(new Intl.Collator("en", { numeric: true, caseFirst: "upper" }).compare));
console.log(files.toSorted(new Intl.Collator("en", { numeric: true, caseFirst: "lower" }).compare));
const versions = ["1.10.0", "1.2.0", "1.2.10", "1.2.9", "10.0.0", "2.0.0"];
console.log(versions.sort((a, b) => a.localeCompare(b, undefined, { numeric: true })));
console.log(new Intl.Collator("en", { numeric: true }).resolvedOptions());
