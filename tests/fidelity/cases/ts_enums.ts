enum Direction { Up, Down, Left, Right }
enum Status { Active = "ACTIVE", Inactive = "INACTIVE", Pending = "PENDING" }
enum Flags { None = 0, Read = 1 << 0, Write = 1 << 1, Exec = 1 << 2, All = Read | Write | Exec }
const enum Inline { A = 10, B = A * 2 }
enum Mixed { No = 0, Yes = "YES" }
console.log(Direction.Up, Direction[0], Direction["Right"], Direction);
console.log(Status.Active, Object.values(Status), Object.keys(Status));
console.log(Flags.All, (Flags.Read | Flags.Exec) & Flags.Write, Flags);
console.log(Inline.A, Inline.B, Mixed);
function move(d: Direction): string {
  switch (d) {
    case Direction.Up: return "north";
    case Direction.Down: return "south";
    default: return "sideways";
  }
}
console.log([Direction.Up, Direction.Left].map(move));
namespace Geometry {
  export const PI2 = Math.PI * 2;
  export function circumference(r: number) { return PI2 * r; }
  export namespace Inner { export const x = 1; }
}
console.log(Geometry.circumference(1).toFixed(4), Geometry.Inner.x, Object.keys(Geometry));
declare const maybe: number | undefined;
type Shape = { kind: "circle"; r: number } | { kind: "square"; s: number };
const area = (s: Shape) => (s.kind === "circle" ? Math.PI * s.r ** 2 : s.s ** 2);
console.log(area({ kind: "circle", r: 2 }).toFixed(2), area({ kind: "square", s: 3 }));
