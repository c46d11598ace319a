//! The integration tests, one crate (one link) with a module per area; each runs the real
//! binaries (`ocapd`, `ocapctl`) against a private home. `cargo test --test it NAME::` runs one area.

mod common;

mod allowed_globals;
mod cap_socket;
mod capabilities;
mod client_boundary;
mod connections;
mod console;
mod crash;
mod daemon_logs;
#[cfg(feature = "remote")]
mod federation;
mod fuzz_requests;
mod home_safety;
mod hostile;
mod http_bundles;
mod io_channels;
mod isolation;
mod kernel_rpc;
#[cfg(feature = "remote")]
mod netns;
mod ocapctl;
mod operations;
mod packaging;
mod pid_file;
mod quickjs_vats;
mod reference_vats;
#[cfg(feature = "remote")]
mod remote_js;
#[cfg(feature = "remote")]
mod remote_net;
mod schema_migrations;
mod service_files;
mod service_lifecycle;
mod systemd_manager;
mod unit_security;
mod vat_errors;
mod vat_logs;
mod wire_protocol;
