//! Remote comms: kernel-to-kernel federation over libp2p, wire-compatible with the reference
//! (docs/remote.md, `reference/remote-comms.md`). Built only with the `remote` feature.
//!
//! - [`frame`]: varint length-prefixed frames of at most 1 MiB.
//! - [`wire`]: the channel's messages, byte for byte as the reference writes them.
//! - [`refs`]: remote references `ro±N`/`rp±N` and their polarity.
//! - [`reliable`]: sequence numbers, acknowledgements, retransmission: a pure state machine the
//!   kernel drives with its own persistence.

pub mod frame;
pub mod muxer;
pub mod negotiate;
pub mod node;
pub mod refs;
pub mod relay;
pub mod relay_cli;
pub mod reliable;
pub mod wire;
