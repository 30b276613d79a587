/** Side-by-side throughput: alternate the contenders over several rounds and keep each one's median. */

export interface Contender {
  name: string;
  /** processes every item once; returns how many it processed */
  run: () => number | Promise<number>;
}

export interface Result {
  name: string;
  perSecond: number;
}

export async function compare(contenders: Contender[], rounds = 5): Promise<Result[]> {
  for (const c of contenders) await c.run(); // warm-up: JIT, caches
  const rates = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const c of contenders) {
      const start = process.hrtime.bigint();
      const n = await c.run();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      rates.get(c.name)!.push(n / seconds);
    }
  }
  return contenders.map((c) => {
    const sorted = rates.get(c.name)!.sort((a, b) => a - b);
    return { name: c.name, perSecond: sorted[Math.floor(sorted.length / 2)]! };
  });
}

export function printTable(title: string, results: Result[], baseline: string, unit = 'events/s'): void {
  const base = results.find((r) => r.name === baseline)!.perSecond;
  console.log(`\n${title}`);
  for (const r of results) {
    console.log(
      `  ${r.name.padEnd(44)} ${Math.round(r.perSecond).toLocaleString('en-US').padStart(12)} ${unit}   ratio ${(r.perSecond / base).toFixed(2)}`,
    );
  }
}
