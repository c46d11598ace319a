//! Smallcaps CapData: encode, decode and prettify (spec §8).
