// LLM code sometimes keeps the `export default` of the file it came from, then calls it.
export default function main(): string {
  return "called main";
}
console.log(main());
export class Exported { static hello() { return "hello from class"; } }
console.log(Exported.hello(), typeof main);
