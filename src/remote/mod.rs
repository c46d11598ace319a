//! Remote comms: kernel-to-kernel federation over libp2p, wire-compatible with the reference
//! (docs/remote.md, `reference/remote-comms.md`). Built only with the `remote` feature.
//!
//! - [`frame`]: varint length-prefixed frames of at most 1 MiB.
//! - [`wire`]: the channel's messages, byte for byte as the reference writes them.
//! - [`refs`]: remote references `ro±N`/`rp±N` and their polarity.
//! - [`reliable`]: sequence numbers, acknowledgements, retransmission: a pure state machine the
//!   kernel drives with its own persistence.
//! - [`negotiate`], [`muxer`]: multistream-select for names libp2p refuses (`whatever`), and the
//!   connection wrapper that hands such substreams to our code.
//! - [`node`]: the network node on its own thread; the kernel's interface to the network.
//! - [`driver`]: the kernel's side of the contract with the node, over a [`driver::Host`].
//! - [`hop`], [`relay`]: the circuit relay behind `ocapd relay` (`daemon/relay.rs`), without limits.

pub mod driver;
pub mod frame;
pub mod hop;
pub mod muxer;
pub mod negotiate;
pub mod node;
pub mod refs;
pub mod relay;
pub mod reliable;
pub mod wire;
