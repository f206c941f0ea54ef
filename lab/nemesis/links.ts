/**
 * Link faults through Toxiproxy. Small wrappers over toxiproxy-node-client that fill in what its types
 * demand (an update must repeat listen/upstream) and always leave a way to heal.
 */
import net from 'node:net';
import type { ISocketFactory } from 'kafkajs';
import type { Proxy } from 'toxiproxy-node-client';
import type { LabEnvironment } from '../infra/environment.ts';
import { freePort } from '../infra/ports.ts';

/** Cuts (enabled=false: open connections are closed, new ones refused) or restores a link. */
export async function setLinkEnabled(proxy: Proxy, enabled: boolean): Promise<Proxy> {
  return proxy.update({ enabled, listen: proxy.listen, upstream: proxy.upstream });
}

/**
 * A link of one's own to broker `brokerId`: a new Toxiproxy proxy in front of the broker's client
 * listener, and a kafkajs socketFactory that sends a client's connections to that broker through it
 * (every other broker keeps the shared links). The shared broker-N proxies carry every suite's traffic,
 * so a toxic there would fault them too; a toxic on this one faults one client. Remove the proxy after.
 */
export async function privateBrokerLink(env: LabEnvironment, name: string, brokerId: number): Promise<{ proxy: Proxy; socketFactory: ISocketFactory }> {
  const endpoint = env.descriptor.kafka.brokers.find((b) => b.id === brokerId)!;
  const shared = await env.toxiproxy!.get(endpoint.proxy ?? `broker-${brokerId}`);
  const port = await freePort();
  const proxy = await env.toxiproxy!.createProxy({ name, listen: `127.0.0.1:${port}`, upstream: shared.upstream });
  const socketFactory: ISocketFactory = ({ host, port: targetPort, onConnect }) => {
    const target = `${host}:${targetPort}` === endpoint.address ? { host: '127.0.0.1', port } : { host, port: targetPort };
    const socket = net.connect(target, onConnect);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };
  return { proxy, socketFactory };
}

/**
 * Replication proxies (the cluster started with `kafka.replicationLinks`) chosen by direction: `to` a
 * follower (everything it fetches), `from` a leader (every follower fetching from it), or one pair.
 */
export function replicationProxies(env: LabEnvironment, select: { to?: number; from?: number }): string[] {
  const links = env.descriptor.kafka.replicationLinks;
  if (!links?.length) throw new Error('this cluster has no replication proxies: the suite must require labEnvironment({ kafka: { replicationLinks: true } })');
  if (select.to === undefined && select.from === undefined) throw new Error('say which replication links: { to: follower } and/or { from: leader }');
  const chosen = links.filter((link) => (select.to === undefined || link.follower === select.to) && (select.from === undefined || link.leader === select.from));
  if (chosen.length === 0) throw new Error(`no replication link matches ${JSON.stringify(select)}`);
  return chosen.map((link) => link.proxy);
}

/**
 * A link of one's own to what a shared proxy (`mysql`, `redis`) fronts: a new Toxiproxy proxy with the
 * same upstream. A toxic on it (Nemesis.latency(proxy.name, …)) slows only the clients given its address,
 * not the suite's observers on the shared link. Remove the proxy after (`proxy.remove()`).
 */
export async function privateLink(env: LabEnvironment, name: string, shared: string): Promise<{ proxy: Proxy; host: string; port: number }> {
  const upstream = (await env.toxiproxy!.get(shared)).upstream;
  const port = await freePort();
  const proxy = await env.toxiproxy!.createProxy({ name, listen: `127.0.0.1:${port}`, upstream });
  return { proxy, host: '127.0.0.1', port };
}
