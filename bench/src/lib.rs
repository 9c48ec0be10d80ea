//! numashard-bench: numashard against its peers on the same keys and the
//! same operation streams, in one run.
//!
//! The binary (`src/main.rs`) is the command-line tool; this library holds
//! the engines behind one trait ([`engine::Engine`]), the workloads, the
//! measured loop, the stall measurement, and the table/JSON/SVG output, so
//! that the equivalence test and the criterion benches use the same code.
#![warn(missing_docs, unsafe_op_in_unsafe_fn)]

pub mod ceiling;
pub mod ceiling_inline;
pub mod engine;
pub mod grow;
pub mod memory;
pub mod numashard_engine;
pub mod peers;
pub mod plot;
pub mod report;
pub mod runner;
pub mod snapshot;
pub mod stall;
pub mod system;
pub mod workload;
