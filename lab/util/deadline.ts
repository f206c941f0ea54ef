/**
 * A bound for a step that has none of its own (a Kafka client call, a service stop, a case, an arena's
 * removal): a hang then fails within `ms` with an error that names the step — made only when the time is
 * up, so it can say what was still pending — instead of ending as the test runner's bare timeout.
 *
 *   await deadline(producer.send(…), 30_000, () => new Error('producing did not finish within 30 s'));
 */
export async function deadline<T>(work: Promise<T>, ms: number, overrun: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(overrun()), ms)));
  work.catch(() => undefined); // once given up, its late rejection is nobody's
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
