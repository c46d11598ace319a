// A scripted kernel peer that speaks the reference kernel's channel protocol (remote-comms.md
// §3, §4) the way the reference does, quirks included: the `whatever` stream, varint-prefixed
// JSON frames of at most 1 MiB, handshake/handshakeAck with incarnations (a changed incarnation
// is answered and then the channel closed, forcing a redial), sequence numbers with piggy-backed
// and delayed (50 ms) standalone ACKs, retransmission of everything pending, in order, when no
// ACK came within the ACK timeout (given up after 3 resends), and a receiver that accepts gaps
// and drops anything at or below its highest sequence number as a duplicate. With --auto it answers `redeemURL` with
// `[true, key, "ro+1"]` and a `message` with a result by notifying that result with "pong".
//
// Options: --seed N (identity [N, 1, 0, …]), --listen MULTIADDR…, --relay MULTIADDR (reserve on
// it), --incarnation ID, --auto, --ack-timeout MS (default 10000, the reference's). Events are JSON lines on stdout; commands are JSON lines on
// stdin: dial {addrs}, message {peer, method, params}, send {peer, frame}, overlong {peer},
// reset {peer}, restart {incarnation}, flood {addr, count} (open kernel streams and never
// handshake on them), exit.

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { fromString, toString } from 'uint8arrays'
import { commands, emit, keyFromSeed, loopbackOnly } from './common.mjs'

const MAX = 1024 * 1024
const args = process.argv.slice(2)
const option = (name) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const options = (name) => args.flatMap((a, i) => (a === name ? [args[i + 1]] : []))
let incarnation = option('--incarnation') ?? crypto.randomUUID()
const auto = args.includes('--auto')
const ackTimeout = Number(option('--ack-timeout') ?? 10_000)
const relay = option('--relay')
const listen = options('--listen')
if (relay) listen.push(`${relay}/p2p-circuit`)

const node = await createLibp2p({
  privateKey: await keyFromSeed(Number(option('--seed') ?? 1), 1),
  addresses: { listen },
  transports: [webSockets(), tcp(), circuitRelayTransport()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionGater: loopbackOnly,
  services: { identify: identify(), ping: ping() }
})

/** peer id → { lp, stream, highest, lastSent, ackTimer } */
const channels = new Map()
/** Per-peer sequence state survives channels, as the reference keeps it in its store. */
const seqs = new Map()
/** peer id → incarnation on file (the reference's peerIncarnation.<peer>). */
const incarnations = new Map()

const seqOf = (peer) => {
  if (!seqs.has(peer)) {
    seqs.set(peer, { highest: 0, lastSent: 0, ackTimer: undefined, pending: [], retries: 0, retransmitTimer: undefined })
  }
  return seqs.get(peer)
}

const write = (lp, text) => lp.write(fromString(text))
const read = async (lp, signal) => toString((await lp.read({ signal })).subarray())

/** The reference's incarnation check; true if the peer restarted (its state is dropped). */
function restarted (peer, observed) {
  const known = incarnations.get(peer)
  incarnations.set(peer, observed)
  if (known !== undefined && known !== observed) {
    const seq = seqs.get(peer)
    if (seq) {
      clearTimeout(seq.ackTimer)
      clearTimeout(seq.retransmitTimer)
    }
    seqs.delete(peer)
    return true
  }
  return false
}

async function register (peer, lp, stream, role) {
  const old = channels.get(peer)
  channels.set(peer, { lp, stream })
  if (old) old.stream.close().catch(() => {})
  emit({ event: 'channel', peer, role })
  try {
    for (;;) {
      const text = await read(lp)
      receive(peer, text)
    }
  } catch (err) {
    if (channels.get(peer)?.stream === stream) channels.delete(peer)
    emit({ event: 'closed', peer, reason: String(err?.message ?? err) })
  }
}

function receive (peer, text) {
  const message = JSON.parse(text)
  const seq = seqOf(peer)
  if (message.ack !== undefined) acknowledged(peer, message.ack)
  if (message.seq === undefined) {
    emit({ event: 'ack', peer, ack: message.ack })
    return
  }
  if (message.ack !== undefined) emit({ event: 'ack', peer, ack: message.ack, piggybacked: true })
  scheduleAck(peer)
  if (message.seq <= seq.highest) {
    emit({ event: 'duplicate', peer, seq: message.seq })
    return
  }
  seq.highest = message.seq // gaps accepted, as the reference does
  emit({ event: 'frame', peer, text })
  if (auto) answer(peer, message)
}

function scheduleAck (peer) {
  const seq = seqOf(peer)
  if (seq.ackTimer) return
  seq.ackTimer = setTimeout(() => {
    seq.ackTimer = undefined
    const channel = channels.get(peer)
    if (channel) write(channel.lp, JSON.stringify({ ack: seq.highest })).catch(() => {})
  }, 50)
}

function acknowledged (peer, ack) {
  const seq = seqOf(peer)
  const before = seq.pending.length
  seq.pending = seq.pending.filter((p) => p.seq > ack)
  if (seq.pending.length < before) seq.retries = 0
  armRetransmit(peer, seq.pending.length < before)
}

function armRetransmit (peer, restart) {
  const seq = seqOf(peer)
  if (seq.pending.length === 0) {
    clearTimeout(seq.retransmitTimer)
    seq.retransmitTimer = undefined
    return
  }
  if (seq.retransmitTimer && !restart) return
  clearTimeout(seq.retransmitTimer)
  seq.retransmitTimer = setTimeout(() => {
    seq.retransmitTimer = undefined
    if (seq.retries >= 3) {
      emit({ event: 'gaveUp', peer, seqs: seq.pending.map((p) => p.seq) })
      seq.pending = []
      seq.retries = 0
      return
    }
    seq.retries += 1
    const channel = channels.get(peer)
    if (channel) {
      emit({ event: 'retransmit', peer, seqs: seq.pending.map((p) => p.seq) })
      for (const { text } of seq.pending) write(channel.lp, text).catch(() => {})
    }
    armRetransmit(peer, true)
  }, ackTimeout)
}

async function sendMessage (peer, method, params) {
  const channel = channels.get(peer)
  const seq = seqOf(peer)
  seq.lastSent += 1
  const ack = seq.highest > 0 ? seq.highest : undefined
  const body = ack === undefined
    ? { seq: seq.lastSent, method, params }
    : { seq: seq.lastSent, ack, method, params }
  clearTimeout(seq.ackTimer)
  seq.ackTimer = undefined
  const text = JSON.stringify(body)
  seq.pending.push({ seq: seq.lastSent, text })
  armRetransmit(peer, false)
  // Without a channel the message waits in the pending queue for the next resend.
  emit({ event: channel ? 'sent' : 'queued', peer, seq: seq.lastSent })
  if (channel) await write(channel.lp, text)
}

const flip = (ref) => ref.replace(/^(r[op])([+-])/, (_, k, s) => k + (s === '+' ? '-' : '+'))

function answer (peer, message) {
  if (message.method === 'redeemURL') {
    const [, key] = message.params
    sendMessage(peer, 'redeemURLReply', [true, key, 'ro+1']).catch(() => {})
  } else if (message.method === 'deliver' && message.params[0] === 'message') {
    const result = message.params[2].result
    if (result) {
      const data = { body: '#"pong"', slots: [] }
      sendMessage(peer, 'deliver', ['notify', [[flip(result), false, data]]]).catch(() => {})
    }
  }
}

await node.handle('whatever', async (stream, connection) => {
  const peer = connection.remotePeer.toString()
  const lp = lpStream(stream, { maxDataLength: MAX })
  try {
    const hello = JSON.parse(await read(lp, AbortSignal.timeout(10_000)))
    if (hello.method !== 'handshake') throw new Error('expected handshake')
    const observed = hello.params.incarnationId
    emit({ event: 'handshake', peer, incarnation: observed, role: 'listener' })
    await write(lp, JSON.stringify({ method: 'handshakeAck', params: { incarnationId: incarnation } }))
    if (restarted(peer, observed)) {
      emit({ event: 'rejected', peer })
      await stream.close()
      return
    }
  } catch (err) {
    emit({ event: 'closed', peer, reason: String(err?.message ?? err) })
    stream.abort(err)
    return
  }
  register(peer, lp, stream, 'listener')
})

async function dial (addrs) {
  let last
  for (const addr of addrs) {
    try {
      const stream = await node.dialProtocol(multiaddr(addr), 'whatever', { signal: AbortSignal.timeout(30_000) })
      const lp = lpStream(stream, { maxDataLength: MAX })
      await write(lp, JSON.stringify({ method: 'handshake', params: { incarnationId: incarnation } }))
      const reply = JSON.parse(await read(lp, AbortSignal.timeout(10_000)))
      if (reply.method !== 'handshakeAck') throw new Error('expected handshakeAck')
      const peer = stream.remotePeer?.toString() ?? addr.split('/p2p/').pop()
      emit({ event: 'handshake', peer, incarnation: reply.params.incarnationId, role: 'dialer' })
      if (restarted(peer, reply.params.incarnationId)) {
        emit({ event: 'rejected', peer })
        await stream.close()
        return
      }
      register(peer, lp, stream, 'dialer')
      return
    } catch (err) {
      last = err
    }
  }
  emit({ event: 'dialFailed', reason: String(last?.message ?? last) })
}

node.addEventListener('self:peer:update', () => {
  emit({ event: 'addrs', addrs: node.getMultiaddrs().map(String) })
})

emit({ event: 'ready', peerId: node.peerId.toString(), incarnation, addrs: node.getMultiaddrs().map(String) })

commands(async (command) => {
  const channel = channels.get(command.peer)
  switch (command.cmd) {
    case 'dial':
      return dial(command.addrs)
    case 'message':
      return sendMessage(command.peer, command.method, command.params)
    case 'send':
      return write(channel.lp, command.frame)
    case 'overlong': {
      // A length prefix of 2 MiB (varint 80 80 80 01) and a few bytes: the receiver must refuse it.
      channel.lp.unwrap().send(new Uint8Array([0x80, 0x80, 0x80, 0x01, 0x7b, 0x7d]))
      return
    }
    case 'flood': {
      const held = []
      let refused = 0
      for (let i = 0; i < command.count; i++) {
        try {
          held.push(await node.dialProtocol(multiaddr(command.addr), 'whatever', { signal: AbortSignal.timeout(10_000) }))
        } catch {
          refused += 1
        }
      }
      emit({ event: 'flooded', opened: held.length, refused })
      return
    }
    case 'reset':
      channel.stream.abort(new Error('reset by the script'))
      return
    case 'restart':
      incarnation = command.incarnation
      for (const seq of seqs.values()) {
        clearTimeout(seq.ackTimer)
        clearTimeout(seq.retransmitTimer)
      }
      seqs.clear()
      for (const { stream } of channels.values()) stream.abort(new Error('restarting'))
      channels.clear()
      emit({ event: 'restarted', incarnation })
      return
    case 'exit':
      await node.stop()
      process.exit(0)
  }
}, async () => {
  await node.stop()
  process.exit(0)
})
