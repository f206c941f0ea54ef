/** Port helpers: pick free loopback ports, wait for a listener. */
import fs from 'node:fs';
import net from 'node:net';

/**
 * A port nothing listens on now, on 127.0.0.1, chosen at random BELOW the kernel's ephemeral range
 * (net.ipv4.ip_local_port_range, 32768–60999 here). The ephemeral range is where bind(0) picks, and also
 * where every outgoing connection takes its local port: a port picked there and bound seconds later by a
 * starting broker can meanwhile be some client's connection (a CI run's Kafka refit: "broker-2 exited
 * during start-up", a BindException, with three clusters busy on the machine). Below the range only
 * another listener can take it, and a listener that picks at random among ~17,000 ports rarely does.
 */
export async function freePort(): Promise<number> {
  const [low, high] = [15_000, ephemeralRangeStart() - 1];
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await listenable(port)) return port;
  }
  throw new Error(`no free port on 127.0.0.1 between ${low} and ${high} after 200 tries`);
}

function ephemeralRangeStart(): number {
  try {
    const start = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > 16_000 ? start : 32_768;
  } catch {
    return 32_768;
  }
}

/** True if a listener can bind 127.0.0.1:port right now (it is released again at once). */
function listenable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Distinct free ports (a set guards against the kernel handing the same one out twice). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns true or `timeoutMs` passes; the error names what was awaited and,
 * through `hint`, where to look (usually a log file). `giveUp` is asked before every probe: a reason it
 * returns (the awaited process has exited, the start-up was aborted) is thrown at once, since waiting
 * out the timeout for something that can no longer answer only hides the cause for minutes.
 */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  {
    timeoutMs = 60_000,
    intervalMs = 200,
    hint = '',
    giveUp,
  }: { timeoutMs?: number; intervalMs?: number; hint?: string; giveUp?: () => string | undefined } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  const wait: PendingWait = { what, since: Date.now() };
  pending.add(wait);
  try {
    while (Date.now() < deadline) {
      const reason = giveUp?.();
      if (reason !== undefined) throw new Error(`gave up waiting for ${what}: ${reason}`);
      try {
        wait.probingSince = Date.now();
        if (await probe()) return;
      } catch (error) {
        lastError = error;
      } finally {
        wait.probingSince = undefined;
      }
      await sleep(intervalMs);
    }
  } finally {
    pending.delete(wait);
  }
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}${hint ? `; ${hint}` : ''}`);
}

interface PendingWait {
  what: string;
  since: number;
  /** Set while a probe runs: a probe that never answers (a hung client call) outlives its wait's timeout. */
  probingSince?: number;
}
const pending = new Set<PendingWait>();

/**
 * The `waitFor`s in progress, oldest first, as one line each: what a case that overran its budget was
 * stuck on (lab/kit says it when it gives the case up), and whether a probe itself hangs.
 */
export function pendingWaits(now = Date.now()): string[] {
  return [...pending].map((w) => `${w.what} (for ${Math.round((now - w.since) / 1000)} s${w.probingSince !== undefined && now - w.probingSince >= 5000 ? `; its probe has not answered for ${Math.round((now - w.probingSince) / 1000)} s` : ''})`);
}
