/**
 * Progress lines on stderr while the bench runs (minutes per section): stdout carries only the table,
 * so `npm run bench > table.txt` keeps just the result.
 */
import os from 'node:os';

const started = performance.now();

export function progress(line: string): void {
  const elapsed = ((performance.now() - started) / 1000).toFixed(0).padStart(5);
  console.error(`[bench ${elapsed} s, load ${os.loadavg()[0]!.toFixed(1)}] ${line}`);
}

/** Runs `measure` once per repetition; even repetitions run side A first, odd ones side B first. */
export async function repetitions<T>(count: number, what: string, measure: (repetition: number, aFirst: boolean) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let repetition = 0; repetition < count; repetition += 1) {
    progress(`${what}: repetition ${repetition + 1} of ${count}`);
    results.push(await measure(repetition, repetition % 2 === 0));
  }
  return results;
}

/** Measures side A and side B one after the other, A first when `aFirst` (what `repetitions` alternates); returns [A, B]. */
export async function inTurn<A, B>(aFirst: boolean, a: () => Promise<A>, b: () => Promise<B>): Promise<[A, B]> {
  if (aFirst) {
    const first = await a();
    return [first, await b()];
  }
  const first = await b();
  return [await a(), first];
}
