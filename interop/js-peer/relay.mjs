// A circuit relay with the reference relay's settings (kernel-utils/src/libp2p-relay.ts): identity
// from the seed [200, 0, …], unlimited reservations without default limits (so circuits carry
// no limit and js-libp2p kernels may open their channel on them), hop timeout 10 s. Unlike the
// reference it listens on 127.0.0.1 only, on ports the system picks (WebSocket, then TCP).
// Prints {"event":"ready","peerId","addrs"}; stops when stdin closes.

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { commands, emit, keyFromSeed, loopbackOnly } from './common.mjs'

const node = await createLibp2p({
  privateKey: await keyFromSeed(200),
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws', '/ip4/127.0.0.1/tcp/0'] },
  transports: [webSockets(), tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionGater: loopbackOnly,
  services: {
    identify: identify(),
    ping: ping(),
    relay: circuitRelayServer({
      reservations: { maxReservations: Infinity, applyDefaultLimit: false },
      hopTimeout: 10 * 1000
    })
  }
})

emit({ event: 'ready', peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) })
commands(() => {}, async () => {
  await node.stop()
  process.exit(0)
})
