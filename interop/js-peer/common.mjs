// Shared by relay.mjs and peer.mjs: identity from a seed, the loopback-only dial gate, JSON lines.
// Our own code, for ocapd's interop tests; only registry packages are used.

import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'

/** An Ed25519 key from the seed [first, 0, …] (the reference relay uses first = 200). */
export async function keyFromSeed (first, second = 0) {
  const seed = new Uint8Array(32)
  seed[0] = first
  seed[1] = second
  return generateKeyPairFromSeed('Ed25519', seed)
}

/** Tests talk over loopback only: refuse to dial anything that is not 127.0.0.0/8 or ::1. */
export const loopbackOnly = {
  denyDialMultiaddr: async (ma) => {
    for (const { name, value } of ma.getComponents()) {
      if (name === 'ip4' && !value.startsWith('127.')) return true
      if (name === 'ip6' && value !== '::1') return true
      if (name === 'dns' || name === 'dns4' || name === 'dns6' || name === 'dnsaddr') return true
    }
    return false
  }
}

/** Writes one event as a JSON line on stdout. */
export function emit (event) {
  process.stdout.write(JSON.stringify(event) + '\n')
}

/** Calls `handle` with each JSON line of stdin; exits when stdin closes. */
export function commands (handle, onClose) {
  let buffer = ''
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', (chunk) => {
    buffer += chunk
    let nl
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      if (line.trim() === '') continue
      Promise.resolve(handle(JSON.parse(line))).catch((err) => {
        emit({ event: 'error', message: String(err?.message ?? err) })
      })
    }
  })
  process.stdin.on('end', onClose)
}
