/**
 * Link faults through Toxiproxy. Small wrappers over toxiproxy-node-client that fill in what its types
 * demand (an update must repeat listen/upstream) and always leave a way to heal.
 */
import type { Proxy } from 'toxiproxy-node-client';

/** Cuts (enabled=false: open connections are closed, new ones refused) or restores a link. */
export async function setLinkEnabled(proxy: Proxy, enabled: boolean): Promise<Proxy> {
  return proxy.update({ enabled, listen: proxy.listen, upstream: proxy.upstream });
}
