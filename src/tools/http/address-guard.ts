/**
 * The SSRF guard (RELIABILITY TL-02): which URLs and addresses `http.fetch` may reach.
 *
 * Only `http:` and `https:` URLs pass. An address passes only when ipaddr.js classifies it as
 * `'unicast'`, i.e. public: loopback, private, link-local (cloud metadata), CGNAT, unspecified,
 * IPv4-mapped IPv6, unique-local, multicast, NAT64/6to4/Teredo and every reserved range are
 * refused. Numeric host spellings (`2130706433`, `0x7f000001`, `017700000001`) need no special
 * case: the WHATWG URL parser has already turned them into `127.0.0.1`.
 *
 * The check runs twice per hop: {@link AddressGuard.checkUrl} before the request (scheme and IP
 * literals, so a refused literal never reaches the network stack), and
 * {@link AddressGuard.resolve} inside the connector, whose answer is the address actually
 * connected to (see `pinned-agent.ts`).
 * @module
 */
import { createRequire } from 'node:module'
import type ipaddrModule from 'ipaddr.js'
import { httpDenied } from './errors.js'
import { canonicalHostname, net, type ResolvedAddress, type ResolvedHttpToolOptions } from './options.js'

let ipaddr: typeof ipaddrModule | undefined

// ipaddr.js loads with the first address checked, not with the built-in tools (which every
// engine and CLI command creates). It is CommonJS, so it loads synchronously here.
function loadIpaddr(): typeof ipaddrModule {
  ipaddr ??= createRequire(import.meta.url)('ipaddr.js') as typeof ipaddrModule
  return ipaddr
}

/** The ipaddr.js range name of an address (`'unicast'` for a public one), or undefined if it is not an IP address. */
export function addressRange(address: string): string | undefined {
  const bare = stripBrackets(address)
  if (net().isIP(bare) === 0) return undefined
  return loadIpaddr().parse(bare).range()
}

/** Whether an IP address is public (ipaddr.js range `'unicast'`). Anything else, including non-IPs, is not. */
export function isPublicAddress(address: string): boolean {
  return addressRange(address) === 'unicast'
}

/** Default port of a URL scheme. */
export function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80
}

/** Validates URLs and resolves host names for one tool instance. */
export interface AddressGuard {
  /** Refuses (with `TW_HTTP_DENIED`) a URL of another scheme, or whose host is a non-public IP literal. */
  checkUrl(url: URL): void
  /**
   * Resolves a host (as the URL names it; IPv6 with or without brackets) for a connection to
   * `port`, refusing unless every address is allowed. The result is the only set of addresses
   * the connection may use.
   */
  resolve(hostname: string, port: number): Promise<readonly ResolvedAddress[]>
}

/** Creates the guard for resolved options. */
export function createAddressGuard(options: ResolvedHttpToolOptions): AddressGuard {
  const isExempt = (hostname: string, port: number): boolean =>
    options.allowPrivateNetwork ||
    options.allowHosts.some((entry) => entry.hostname === hostname && (entry.port === undefined || entry.port === port))

  return {
    checkUrl(url) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw httpDenied(url, `scheme ${JSON.stringify(url.protocol)} is not allowed; only http: and https:`)
      }
      // Credentials in a URL (the first one or a redirect's) would travel in every message about it:
      // refused here, where the message hides them. Send them in a header instead.
      if (url.username !== '' || url.password !== '') throw httpDenied(url, 'a URL with credentials (user:password@) is not allowed; send them in an Authorization header')
      const hostname = canonicalHostname(url.hostname)
      const port = url.port === '' ? defaultPort(url.protocol) : Number(url.port)
      const range = addressRange(hostname)
      if (range !== undefined && range !== 'unicast' && !isExempt(hostname, port)) {
        throw httpDenied(url, `${hostname} is a ${range} address, not a public one`, { address: stripBrackets(hostname), range })
      }
    },

    async resolve(host, port) {
      const bare = stripBrackets(host)
      const hostname = canonicalHostname(net().isIP(bare) === 6 ? `[${bare}]` : bare)
      const where = `//${hostname}:${port}`
      const exempt = isExempt(hostname, port)
      const literal = net().isIP(bare)
      if (literal !== 0) {
        const range = addressRange(bare)
        if (!exempt && range !== 'unicast') throw httpDenied(where, `${hostname} is a ${range} address, not a public one`, { address: bare, range })
        return [{ address: bare, family: literal === 6 ? 6 : 4 }]
      }
      const found = await options.lookup(bare)
      const addresses: ResolvedAddress[] = []
      for (const { address } of found) {
        const family = net().isIP(address)
        if (family === 0) throw httpDenied(where, `the resolver returned ${JSON.stringify(address)}, which is not an IP address`)
        const range = addressRange(address)
        // One bad address refuses the host: a connection may try any of them.
        if (!exempt && range !== 'unicast') {
          throw httpDenied(where, `${hostname} resolves to ${address}, a ${range} address, not a public one`, { address, range })
        }
        addresses.push({ address, family: family === 6 ? 6 : 4 })
      }
      if (addresses.length === 0) throw Object.assign(new Error(`${hostname} did not resolve to any address`), { code: 'ENOTFOUND' })
      return addresses
    },
  }
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}
