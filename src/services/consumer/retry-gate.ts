/**
 * Holds back retry-topic partitions whose head record is not due yet, without blocking anything else:
 * the topic-partition is paused (kafkajs stops fetching it) and resumed by a timer when the head record
 * becomes due. Sleeping in the handler instead would stall every partition that shares the fetch
 * (kafkajs waits for a fetch's batches to finish before fetching from that broker again).
 * A retry topic has one delay, so records are due in the order they sit in the partition: waiting for
 * the head is waiting for the earliest.
 */
export class RetryGate {
  private readonly timers = new Set<NodeJS.Timeout>();
  private paused = 0;

  /** `pause` is kafkajs's eachBatch `pause()`, which returns the matching `resume`. */
  holdFor(pause: () => () => void, waitMs: number): void {
    const resume = pause();
    this.paused += 1;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.paused -= 1;
      resume();
    }, waitMs);
    this.timers.add(timer);
  }

  /** Partitions currently held back. */
  held(): number {
    return this.paused;
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.paused = 0;
  }
}
