//! Benchmarks live in `benches/`; run them with `cargo bench -p smbdx-bench`. Comparison scripts
//! against outside anchors (perftest, Samba) sit beside this file as later issues add them.

// Unsafe code lives in rdma/ only (see rdma/README.md), where each block says why it is sound.
#![forbid(unsafe_code)]
