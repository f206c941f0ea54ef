/**
 * Reads a topic from its beginning up to the end offsets captured when the read starts: a bounded job,
 * so records the DLQ receives while a replay runs (including replayed records that fail again) are left
 * for the next replay instead of looping forever.
 *
 * kafkajs reads only through a consumer group; each read uses its own fresh group id, commits nothing,
 * and deletes the group afterwards, so it never competes with or moves any other reader. Records are
 * handed to `handle` one at a time, in offset order per partition; a record is never handed twice even
 * if a rebalance makes kafkajs fetch it again (the next offset per partition is tracked here).
 */
import type { IHeaders, Kafka } from 'kafkajs';

export interface TopicRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders | undefined;
  /** Record timestamp, epoch ms. */
  timestamp: number;
}

export type HandleVerdict = 'continue' | 'stop';

export interface BoundedReadOptions {
  groupId: string;
  /** Longest time one `handle` call may take (a rate limiter's wait): the session timeout is sized from it. */
  maxHandleMs?: number;
  /** Give up when no record arrives and no handler runs for this long (default 30 s). */
  idleTimeoutMs?: number;
}

export async function readToCapturedEnd(
  kafka: Kafka,
  topic: string,
  handle: (record: TopicRecord) => Promise<HandleVerdict>,
  options: BoundedReadOptions,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    // Partition → end offset (exclusive) for partitions that hold something.
    const ends = new Map(offsets.filter((p) => Number(p.high) > Number(p.low)).map((p) => [p.partition, Number(p.high)]));
    if (ends.size === 0) return;
    const next = new Map<number, number>();
    const remaining = new Set(ends.keys());

    // A handler may wait for the rate limiter; the group must not evict us meanwhile.
    const sessionTimeout = Math.min(1_800_000, Math.max(30_000, 3 * (options.maxHandleMs ?? 0)));
    const consumer = kafka.consumer({ groupId: options.groupId, sessionTimeout, heartbeatInterval: 1000, maxWaitTimeInMs: 250, allowAutoTopicCreation: false });
    let finished = false;
    let lastProgress = performance.now();
    let settle!: (error?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (error?: unknown) => {
        finished = true;
        if (error === undefined) resolve();
        else reject(error);
      };
    });
    done.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
    consumer.on(consumer.events.CRASH, (event) => {
      if (!finished) settle(event.payload.error);
    });
    const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    const watchdog = setInterval(() => {
      if (!finished && performance.now() - lastProgress > idleTimeoutMs) settle(new Error(`no progress reading ${topic} for ${idleTimeoutMs} ms (partitions left: ${[...remaining].join(', ')})`));
    }, 1000);

    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, heartbeat, isRunning, isStale }) => {
          const end = ends.get(batch.partition);
          if (end === undefined || finished) return;
          lastProgress = performance.now();
          try {
            for (const message of batch.messages) {
              if (finished || !isRunning() || isStale()) return;
              const offset = Number(message.offset);
              if (offset >= end) break;
              if (offset < (next.get(batch.partition) ?? 0)) continue; // fetched again after a rebalance
              const verdict = await handle({
                topic,
                partition: batch.partition,
                offset: message.offset,
                key: message.key,
                value: message.value,
                headers: message.headers,
                timestamp: Number(message.timestamp),
              });
              next.set(batch.partition, offset + 1);
              lastProgress = performance.now();
              if (verdict === 'stop') return settle();
              await heartbeat();
            }
            if (Number(batch.lastOffset()) >= end - 1) {
              remaining.delete(batch.partition);
              if (remaining.size === 0) settle();
            }
          } catch (error) {
            // Never let kafkajs retry the batch: a handler's side effects (publishes) must not repeat.
            settle(error);
          }
        },
      });
      await done;
    } finally {
      clearInterval(watchdog);
      finished = true;
      await consumer.disconnect().catch(() => undefined);
      await admin.deleteGroups([options.groupId]).catch(() => undefined);
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
