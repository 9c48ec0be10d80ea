pub use numashard;
