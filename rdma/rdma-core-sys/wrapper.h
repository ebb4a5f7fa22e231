/* The headers rdma-core-sys binds (build.rs feeds this file to bindgen). */
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>
