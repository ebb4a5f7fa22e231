//! Generates the FFI from the installed rdma-core headers when the `rdma` feature is on.
//!
//! The verbs on the data path (`ibv_post_send`, `ibv_poll_cq`, ...) are `static inline` in
//! `<infiniband/verbs.h>`: they have no symbol in libibverbs. bindgen's `wrap_static_fns` writes a C
//! file with one exported wrapper per inline function (named `<fn>__extern`), which `cc` compiles
//! into a static library linked into this crate.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=wrapper.h");
    #[cfg(feature = "rdma")]
    generate();
}

#[cfg(feature = "rdma")]
fn generate() {
    use bindgen::{EnumVariation, RustTarget};
    use std::path::PathBuf;

    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let mut include_paths = Vec::new();
    for lib in ["libibverbs", "librdmacm"] {
        let found = pkg_config::Config::new().probe(lib).unwrap_or_else(|e| {
            panic!(
                "rdma-core-sys: pkg-config cannot find {lib} ({e}); \
                 on Debian: apt install libibverbs-dev librdmacm-dev libclang-dev pkg-config"
            )
        });
        include_paths.extend(found.include_paths);
    }

    let wrapper =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("manifest dir")).join("wrapper.h");
    let extern_c = out.join("static_fns");
    // The workspace's rust-version (generated code uses `unsafe extern`, stable since 1.82).
    let rust_target = RustTarget::stable(85, 0).expect("bindgen knows Rust 1.85");
    let mut builder = bindgen::Builder::default()
        .header(wrapper.to_string_lossy())
        .rust_target(rust_target)
        .clang_args(include_paths.iter().map(|p| format!("-I{}", p.display())))
        .allowlist_function("ibv_.*|_+ibv_.*|rdma_.*")
        .allowlist_type("ibv_.*|rdma_.*|pthread_(mutex|cond)_t|sockaddr.*")
        .allowlist_var("IBV_.*|RDMA_.*")
        // Values the kernel or the device hand back may be ones this build has never heard of, so
        // C enums become newtypes with associated constants, never Rust enums (an unknown value in
        // a Rust enum is undefined behaviour).
        .default_enum_style(EnumVariation::NewType { is_bitfield: false, is_global: false })
        .bitfield_enum("ibv_access_flags|ibv_send_flags|ibv_wc_flags|ibv_qp_attr_mask|ibv_port_cap_flags")
        .derive_default(true)
        .derive_debug(false)
        .prepend_enum_name(false)
        .layout_tests(false)
        .generate_comments(false)
        // The data-path verbs are static inline: export them through generated C wrappers.
        .wrap_static_fns(true)
        .wrap_static_fns_path(&extern_c)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    // The safe layer never looks inside the locks libibverbs embeds in its structs.
    for t in ["pthread_mutex_t", "pthread_cond_t"] {
        builder = builder.opaque_type(t);
    }
    let bindings =
        builder.generate().expect("rdma-core-sys: bindgen failed on <infiniband/verbs.h>, <rdma/rdma_cma.h>");
    bindings.write_to_file(out.join("bindings.rs")).expect("write bindings.rs");

    let mut cc = cc::Build::new();
    cc.file(extern_c.with_extension("c"))
        .include(wrapper.parent().expect("crate dir"))
        .includes(&include_paths)
        .warnings(false);
    cc.compile("rdma_core_static_fns");
    println!("cargo:rustc-link-lib=ibverbs");
    println!("cargo:rustc-link-lib=rdmacm");
}
