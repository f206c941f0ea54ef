/**
 * The nemesis on a private link (its own Toxiproxy proxy in front of a local echo server, so the shared
 * cluster is untouched): faults take effect, are recorded as windows in the history, and heal.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Proxy } from 'toxiproxy-node-client';
import { History } from '../history/history.ts';
import { freePort } from '../infra/ports.ts';
import { labEnvironment } from '../infra/vitest.ts';
import { Nemesis } from '../nemesis/nemesis.ts';

const env = labEnvironment();
let echo: net.Server;
let proxy: Proxy;
const proxyName = `nemesis-test-${process.pid}`;

/** Round trip of one line through the proxy, in ms; rejects when the link is cut. */
function roundTrip(port: number, timeoutMs = 3000): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('timeout')));
    socket.once('connect', () => socket.write('ping\n'));
    socket.once('data', () => {
      socket.end();
      resolve(performance.now() - start);
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the echo')));
  });
}

const port = () => Number(proxy.listen.split(':').at(-1));

describe.runIf(env.toxiproxy)('nemesis link faults', () => {
  beforeAll(async () => {
    echo = net.createServer((socket) => socket.pipe(socket));
    const upstream = await freePort();
    await new Promise<void>((resolve) => echo.listen(upstream, '127.0.0.1', resolve));
    proxy = await env.toxiproxy!.createProxy({ name: proxyName, listen: `127.0.0.1:${await freePort()}`, upstream: `127.0.0.1:${upstream}` });
  });

  afterAll(async () => {
    await proxy?.remove();
    echo?.close();
  });

  it('latency delays the link, is recorded as a window, and heals', async () => {
    const history = new History('nemesis');
    const nemesis = new Nemesis(env, history);
    expect(await roundTrip(port())).toBeLessThan(100);
    await nemesis.latency(proxyName, 250);
    expect(await roundTrip(port())).toBeGreaterThanOrEqual(250);
    expect(nemesis.activeFaults()).toEqual([`latency ${proxyName}`]);
    await nemesis.heal();
    expect(await roundTrip(port())).toBeLessThan(100);
    expect(history.faultWindows()).toEqual([expect.objectContaining({ fault: 'latency', target: proxyName, detail: { latency: 250, jitter: 0 } })]);
    expect(history.faultWindows()[0]!.end).toBeDefined();
  });

  it('partition cuts the link until healed', async () => {
    const nemesis = new Nemesis(env);
    await nemesis.partition(proxyName);
    await expect(roundTrip(port(), 1000)).rejects.toThrow();
    await nemesis.heal();
    expect(await roundTrip(port())).toBeLessThan(100);
  });

  it('heals every fault even when one heal fails, and says which', async () => {
    const nemesis = new Nemesis(env);
    await nemesis.timeout(proxyName, 0);
    nemesis.record('broken', 'nothing', async () => {
      throw new Error('cannot heal');
    });
    await expect(nemesis.heal()).rejects.toThrow(/could not heal 1 fault/);
    expect(nemesis.activeFaults()).toEqual([]);
    expect(await roundTrip(port())).toBeLessThan(100); // the timeout toxic was removed anyway
  });
});
