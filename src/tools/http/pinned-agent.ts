/**
 * The undici dispatcher that makes the SSRF check and the connection one step: DNS rebinding
 * (an answer that is public when checked and private when connecting) is impossible because
 * the connector resolves the host exactly once, validates every address, and hands the socket a
 * `lookup` that can only return those addresses.
 *
 * This is a custom `connect` function rather than a plain `connect.lookup`: a lookup sees the
 * host name but not the port, and `allowHosts` entries may be port-specific; and `net.connect`
 * never calls `lookup` for an IP literal, which therefore must be checked here too.
 * @module
 */
import type { LookupAddress, LookupOptions } from 'node:dns'
import type { LookupFunction } from 'node:net'
import { Agent, buildConnector } from 'undici'
import { defaultPort, type AddressGuard } from './address-guard.js'
import type { ResolvedAddress } from './options.js'

/** Time allowed to establish one TCP/TLS connection (the tool's overall timeout still applies). */
const CONNECT_TIMEOUT_MS = 10_000

/**
 * An undici `Agent` whose every connection goes through `guard`. The caller owns it and must
 * `destroy()` (or `close()`) it when done; `http.fetch` makes one per call and destroys it in `finally`.
 */
export function createPinnedAgent(guard: AddressGuard): Agent {
  return new Agent({
    connect(options, callback) {
      const port = options.port === '' ? defaultPort(options.protocol) : Number(options.port)
      guard.resolve(options.hostname, port).then(
        (addresses) => {
          // A connector per connection, because the pinned addresses belong to this connection only.
          buildConnector({ timeout: CONNECT_TIMEOUT_MS, lookup: pinnedLookup(addresses) })(options, callback)
        },
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
      )
    },
  })
}

/** A `lookup` for `net.connect` that answers only the pre-validated addresses. */
function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return (_hostname: string, options: LookupOptions, callback) => {
    const family = options.family === 4 || options.family === 6 ? options.family : undefined
    const usable: LookupAddress[] = addresses.filter((a) => family === undefined || a.family === family).map((a) => ({ ...a }))
    const first = usable[0]
    if (first === undefined) {
      callback(Object.assign(new Error('no validated address of the requested family'), { code: 'ENOTFOUND' }), [])
    } else if (options.all === true) {
      callback(null, usable)
    } else {
      callback(null, first.address, first.family)
    }
  }
}
