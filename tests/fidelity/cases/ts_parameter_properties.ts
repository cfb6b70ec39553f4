class Account {
  private transactions: number[] = [];
  constructor(
    public readonly owner: string,
    private balance: number = 0,
    protected currency: string = "EUR",
    readonly id?: string,
  ) {}
  deposit(amount: number): this {
    this.balance += amount;
    this.transactions.push(amount);
    return this;
  }
  get summary() { return `${this.owner}: ${this.balance} ${this.currency}`; }
}
const acc = new Account("Zoé", 100).deposit(50).deposit(25);
console.log(acc.summary);
console.log(acc);
console.log(Object.keys(acc));
class Point3D {
  constructor(public x = 0, public y = 0, public z = 0) {}
}
console.log(new Point3D(1, 2), JSON.stringify(new Point3D()));
class Field {
  declare declared: string;
  uninitialized?: number;
  initialized = "yes";
}
console.log(new Field(), Object.keys(new Field()));
