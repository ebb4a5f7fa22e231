//! Benchmarks live in `benches/`; run them with `cargo bench -p smbdx-bench`. Comparison scripts
//! against outside anchors (perftest, Samba) sit beside this file as later issues add them.
