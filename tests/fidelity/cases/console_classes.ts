class Animal {
  static kingdom = "Animalia";
  #secret = "hidden";
  protected legs: number;
  constructor(public name: string, legs = 4) { this.legs = legs; }
  speak() { return `${this.name} makes a sound`; }
  get description() { return `${this.name} (${this.legs} legs)`; }
}
class Dog extends Animal {
  tricks: string[] = [];
  constructor(name: string, public breed: string) { super(name); }
  override speak() { return `${this.name} barks`; }
}
const rex = new Dog("Rex", "Labrador");
rex.tricks.push("sit", "roll");
console.log(rex);
console.log(new Animal("Cat"));
console.log(rex.speak(), rex.description, rex instanceof Animal, Dog.name, Object.getPrototypeOf(rex) === Dog.prototype);
console.log(Animal, Dog, [Animal]);
console.log(String(rex), `${rex}`, rex.toString());
class Temperature {
  constructor(private celsius: number) {}
  toString() { return `${this.celsius}°C`; }
  toJSON() { return { c: this.celsius }; }
  [Symbol.for("Deno.customInspect")]() { return `Temperature<${this.celsius}>`; }
}
const t = new Temperature(21);
console.log(t, `${t}`, JSON.stringify(t), [t]);
class Empty {}
console.log(new Empty(), new (class {})(), Object.create(Dog.prototype));
const anon = new (class extends Map {})([[1, 2]]);
console.log(anon);
class Tagged { get [Symbol.toStringTag]() { return "CustomTag"; } }
console.log(new Tagged(), Object.prototype.toString.call(new Tagged()));
console.log(Object.freeze({ frozen: true }), Object.seal([1]));
console.log(new Proxy({ target: 1 }, {}), new Proxy([1, 2], {}));
