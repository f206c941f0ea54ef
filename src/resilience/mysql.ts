/**
 * Which MySQL errors say the database is unavailable (for a dependency guard's breaker, E-023): the
 * connection failed or was lost. Lock waits, deadlocks and duplicate keys are answers of a working
 * database and never open a breaker.
 */
const unavailableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT']);
// CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR, CR_SERVER_GONE_ERROR, CR_SERVER_LOST
const unavailableErrnos = new Set([2002, 2003, 2006, 2013]);

export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as { code?: string; errno?: number; fatal?: boolean } | undefined;
  if (!e) return false;
  return e.fatal === true || unavailableCodes.has(e.code ?? '') || (e.errno !== undefined && unavailableErrnos.has(e.errno));
}
