/** Structured logs (pino). Every record of an event carries `eventId` and `traceId` as fields. */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(service: string, level = process.env.LAB_LOG_LEVEL ?? 'warn'): Logger {
  return pino({ name: service, level, base: { service, pid: process.pid } });
}
