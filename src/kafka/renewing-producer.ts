/**
 * An idempotent producer for records sent one at a time (the consumer's retry/DLQ hops, the replay-worker)
 * that is replaced by a new one after any failed send, sends running one at a time.
 *
 *   const publisher = new RenewingProducer(() => kafka.producer({ idempotent: true, maxInFlightRequests: 1 }));
 *   await publisher.connect();
 *   await publisher.send(topic, { key, value, headers });   // sendOne's acknowledgement check included
 *
 * Why: kafkajs 2.2.4 numbers an idempotent producer's records per partition and takes the numbers back
 * when a request fails. A request can fail after the leader appended it (a timeout, NOT_ENOUGH_REPLICAS
 * once the ISR shrank): the broker then holds that sequence number, and the NEXT record sent to that
 * partition reuses it. The broker takes it for a retry of the appended one, acknowledges it at that
 * record's offset and never writes it — E-009's third arm loses exactly one acknowledged record so. A
 * replay that marks a failed record and moves on to the next, or a second partition's hop sent right after
 * a failed one, would lose a record that way. A new producer has a new producer id and new sequence
 * numbers: the failed record, sent again by its caller, is at worst written twice (consumers deduplicate
 * by event id), never acknowledged without being written. One send at a time, so no send can slip in on
 * the old producer between the failure and its replacement. The relay's batches have their own guards
 * (event-publisher.ts).
 */
import type { Message, Producer, RecordMetadata } from 'kafkajs';
import pLimit from 'p-limit';
import { sendOne } from './send-one.ts';

export class RenewingProducer {
  private producer: Producer | undefined;
  private readonly oneAtATime = pLimit(1);
  /** Producers replaced after a failed send. */
  retired = 0;

  constructor(
    private readonly create: () => Producer,
    private readonly onRetired?: (error: unknown) => void,
  ) {}

  async connect(): Promise<void> {
    await this.oneAtATime(() => this.current());
  }

  /** `sendOne` through the current producer; after a failure the producer is replaced before the next send. */
  send(topic: string, message: Message): Promise<RecordMetadata> {
    return this.oneAtATime(async () => {
      const producer = await this.current();
      try {
        return await sendOne(producer, topic, message);
      } catch (error) {
        this.producer = undefined;
        this.retired += 1;
        this.onRetired?.(error);
        await producer.disconnect().catch(() => undefined);
        throw error;
      }
    });
  }

  async disconnect(): Promise<void> {
    await this.oneAtATime(async () => {
      const producer = this.producer;
      this.producer = undefined;
      await producer?.disconnect();
    });
  }

  private async current(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = this.create();
    await producer.connect();
    this.producer = producer;
    return producer;
  }
}
