/**
 * Per-key order: within one key (account), the versions seen, in the order they were consumed, must go
 * up by exactly one. `nonmonotonic`: a version not greater than the previous one (reordering or a
 * redelivered older record); `skip`: a gap (a version never seen between two that were).
 * Duplicates of the latest version are reported separately (`repeated`), since at-least-once delivery
 * makes them legal when the consumer dedupes.
 */
import { verdict, type Verdict } from './verdict.ts';

export interface VersionedRecord {
  key: string;
  version: number;
}

export function checkPerKeyOrder(records: Iterable<VersionedRecord>, options: { startVersion?: number } = {}): Verdict {
  const last = new Map<string, number>();
  const nonmonotonic: unknown[] = [];
  const skip: unknown[] = [];
  const repeated: unknown[] = [];
  let count = 0;
  for (const { key, version } of records) {
    count += 1;
    const previous = last.get(key);
    const expected = previous === undefined ? (options.startVersion ?? version) : previous + 1;
    if (previous !== undefined && version === previous) repeated.push({ key, version });
    else if (previous !== undefined && version < previous) nonmonotonic.push({ key, version, after: previous });
    else if (version > expected) skip.push({ key, from: previous ?? options.startVersion, to: version });
    if (previous === undefined || version > previous) last.set(key, version);
  }
  return verdict('per-key order', { nonmonotonic, skip, repeated }, { records: count, keys: last.size }, ['nonmonotonic', 'skip']);
}
