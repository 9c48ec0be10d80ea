//! The C ABI of numashard: `libnumashard.so` / `libnumashard.a` and the
//! header `include/numashard.h`, generated from this crate by cbindgen.
//!
//! Conventions, the same for every function (they are repeated in the
//! header's preamble):
//! - every exported symbol and type starts with `ns_`;
//! - every function returns an [`ns_status`] (except the few that cannot
//!   fail), and a panic inside never unwinds into C: it becomes
//!   `NS_ERR_PANIC` (see [`boundary`]);
//! - outputs are written only when the status says so; every output pointer
//!   is required; `(NULL, 0)` is an empty byte string; `ns_*_free(NULL)` is a
//!   no-op;
//! - [`ns_map`] and [`ns_iter`] are opaque handles.
#![warn(missing_docs, unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]

pub mod batch;
pub mod boundary;
pub mod config;
pub mod direct;
pub mod handle;
pub mod iter;
pub mod kv;
pub mod lifecycle;
pub mod snapshot;
pub mod stats;
pub mod status;
pub mod ttl;

pub use batch::*;
pub use config::*;
pub use direct::*;
pub use handle::{ns_iter, ns_map};
pub use iter::*;
pub use kv::*;
pub use lifecycle::*;
pub use snapshot::*;
pub use stats::*;
pub use status::*;
pub use ttl::*;

/// The engine crate, for Rust users of this crate (tests, the fuzz target).
pub use numashard as engine;
