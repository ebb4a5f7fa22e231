//! The RDMA devices of this host and their attributes (what `smbdx devices` prints).

use crate::error::{Error, Result};
use rdma_core_sys as sys;
use std::fmt;

/// One device (`ibv_query_device`) with its ports.
#[derive(Clone, Debug)]
pub struct DeviceInfo {
    pub name: String,
    pub node_guid: u64,
    pub fw_ver: String,
    pub max_qp: i32,
    pub max_qp_wr: i32,
    pub max_cqe: i32,
    pub max_mr: i32,
    pub max_mr_size: u64,
    pub max_mw: i32,
    pub max_sge: i32,
    pub max_qp_rd_atom: i32,
    pub max_qp_init_rd_atom: i32,
    pub ports: Vec<PortInfo>,
}

/// One port (`ibv_query_port`) with its non-zero GIDs.
#[derive(Clone, Debug)]
pub struct PortInfo {
    pub num: u8,
    /// `enum ibv_port_state`: 1 DOWN, 2 INIT, 3 ARMED, 4 ACTIVE.
    pub state: u32,
    pub active_mtu: u32,
    pub max_mtu: u32,
    /// `IBV_LINK_LAYER_*`: 1 InfiniBand, 2 Ethernet.
    pub link_layer: u8,
    pub gids: Vec<(i32, [u8; 16])>,
}

impl PortInfo {
    pub fn state_name(&self) -> &'static str {
        match self.state {
            1 => "DOWN",
            2 => "INIT",
            3 => "ARMED",
            4 => "ACTIVE",
            5 => "ACTIVE_DEFER",
            _ => "NOP",
        }
    }

    pub fn link_layer_name(&self) -> &'static str {
        match self.link_layer {
            1 => "InfiniBand",
            2 => "Ethernet",
            _ => "unspecified",
        }
    }
}

/// `enum ibv_mtu` to bytes.
fn mtu_bytes(m: u32) -> u32 {
    if (1..=5).contains(&m) {
        128 << m
    } else {
        0
    }
}

/// Formats a GID like an IPv6 address (RoCEv2 GIDs of IPv4 addresses read `::ffff:a.b.c.d`).
pub struct Gid<'a>(pub &'a [u8; 16]);

impl fmt::Display for Gid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&std::net::Ipv6Addr::from(*self.0), f)
    }
}

/// Lists every device with its attributes. An empty list is not an error.
pub fn devices() -> Result<Vec<DeviceInfo>> {
    let mut n = 0;
    // SAFETY: n receives the count; the list is freed below.
    let list = unsafe { sys::ibv_get_device_list(&mut n) };
    if list.is_null() {
        return Err(Error::verb("ibv_get_device_list", String::new(), None));
    }
    let mut out = Vec::new();
    let mut result = Ok(());
    for i in 0..n.max(0) as usize {
        // SAFETY: list holds n device pointers.
        let dev = unsafe { *list.add(i) };
        match query(dev) {
            Ok(d) => out.push(d),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    // SAFETY: list came from ibv_get_device_list; contexts opened on it are closed in query.
    unsafe { sys::ibv_free_device_list(list) };
    result.map(|()| out)
}

fn query(dev: *mut sys::ibv_device) -> Result<DeviceInfo> {
    // SAFETY: dev is a live entry of the device list; the name is owned by it.
    let name =
        unsafe { std::ffi::CStr::from_ptr(sys::ibv_get_device_name(dev)) }.to_string_lossy().into_owned();
    // SAFETY: dev is live.
    let ctx = unsafe { sys::ibv_open_device(dev) };
    if ctx.is_null() {
        return Err(Error::verb("ibv_open_device", name, None));
    }
    let info = query_open(ctx, &name);
    // SAFETY: ctx was opened above and nothing else uses it.
    unsafe { sys::ibv_close_device(ctx) };
    info
}

fn query_open(ctx: *mut sys::ibv_context, name: &str) -> Result<DeviceInfo> {
    let mut attr = sys::ibv_device_attr::default();
    // SAFETY: ctx is open; attr is writable.
    let r = unsafe { sys::ibv_query_device(ctx, &mut attr) };
    if r != 0 {
        return Err(Error::verb("ibv_query_device", name.to_string(), Some(r)));
    }
    let fw: Vec<u8> = attr.fw_ver.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    let mut ports = Vec::new();
    for num in 1..=attr.phys_port_cnt {
        let mut pa = sys::ibv_port_attr::default();
        // SAFETY: ctx is open; pa is writable; ports are numbered from 1.
        let r = unsafe { sys::___ibv_query_port(ctx, num, &mut pa) };
        if r != 0 {
            return Err(Error::verb("ibv_query_port", format!("{name} port {num}"), Some(r)));
        }
        let mut gids = Vec::new();
        for index in 0..pa.gid_tbl_len.max(0) {
            let mut gid = sys::ibv_gid::default();
            // SAFETY: index is below the port's GID table length.
            if unsafe { sys::ibv_query_gid(ctx, num, index, &mut gid) } != 0 {
                continue; // unused entries of RoCE GID tables fail to query
            }
            // SAFETY: both union members are 16 plain bytes.
            let raw = unsafe { gid.raw };
            if raw != [0; 16] {
                gids.push((index, raw));
            }
        }
        ports.push(PortInfo {
            num,
            state: pa.state.0,
            active_mtu: mtu_bytes(pa.active_mtu.0),
            max_mtu: mtu_bytes(pa.max_mtu.0),
            link_layer: pa.link_layer,
            gids,
        });
    }
    Ok(DeviceInfo {
        name: name.to_string(),
        node_guid: u64::from_be(attr.node_guid),
        fw_ver: String::from_utf8_lossy(&fw).into_owned(),
        max_qp: attr.max_qp,
        max_qp_wr: attr.max_qp_wr,
        max_cqe: attr.max_cqe,
        max_mr: attr.max_mr,
        max_mr_size: attr.max_mr_size,
        max_mw: attr.max_mw,
        max_sge: attr.max_sge,
        max_qp_rd_atom: attr.max_qp_rd_atom,
        max_qp_init_rd_atom: attr.max_qp_init_rd_atom,
        ports,
    })
}

/// The device context librdmacm opened for one device (`rdma_get_devices`), held while a domain
/// uses it. CM ids bound to the device carry this same context, so queue pairs made on them can use
/// the protection domain and completion queue a domain makes on it.
pub(crate) struct DeviceContext {
    /// The whole list, freed (its references dropped) when the domain is gone.
    list: *mut *mut sys::ibv_context,
    raw: *mut sys::ibv_context,
    name: String,
}

// SAFETY: an ibv_context may be used from any thread; we only read it and pass it to verbs.
unsafe impl Send for DeviceContext {}
// SAFETY: see Send.
unsafe impl Sync for DeviceContext {}

/// The name of the device an open context belongs to.
pub(crate) fn context_name(ctx: *mut sys::ibv_context) -> Option<String> {
    if ctx.is_null() {
        return None;
    }
    // SAFETY: ctx is a live context; the name is a NUL-terminated string its device owns.
    let name = unsafe { std::ffi::CStr::from_ptr(sys::ibv_get_device_name((*ctx).device)) };
    Some(name.to_string_lossy().into_owned())
}

impl DeviceContext {
    /// The context of the device called `name`, or of the first device.
    pub fn open(name: Option<&str>) -> Result<Self> {
        let mut n = 0;
        // SAFETY: n receives the count; the list is freed in Drop (or below, if unused).
        let list = unsafe { sys::rdma_get_devices(&mut n) };
        if list.is_null() {
            return Err(Error::verb("rdma_get_devices", String::new(), None));
        }
        let mut seen = Vec::new();
        for i in 0..n.max(0) as usize {
            // SAFETY: the list holds n contexts.
            let raw = unsafe { *list.add(i) };
            let Some(have) = context_name(raw) else { continue };
            if name.is_none_or(|want| want == have) {
                return Ok(Self { list, raw, name: have });
            }
            seen.push(have);
        }
        // SAFETY: list came from rdma_get_devices and nothing uses its contexts.
        unsafe { sys::rdma_free_devices(list) };
        Err(Error::NoDevice(match name {
            Some(want) => {
                format!("{want} (devices: {})", if seen.is_empty() { "none".into() } else { seen.join(", ") })
            }
            None => "(any)".into(),
        }))
    }

    pub fn raw(&self) -> *mut sys::ibv_context {
        self.raw
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for DeviceContext {
    fn drop(&mut self) {
        // SAFETY: the PD, CQ and channel made on this context hold an Arc to it, so they are gone;
        // librdmacm keeps the context itself open for its ids.
        unsafe { sys::rdma_free_devices(self.list) };
    }
}

/// Device attributes of an open context (for clamping queue sizes and RDMA READ depths).
pub(crate) fn device_attr(ctx: *mut sys::ibv_context) -> Result<sys::ibv_device_attr> {
    let mut attr = sys::ibv_device_attr::default();
    // SAFETY: ctx is a live context (a domain's); attr is writable.
    let r = unsafe { sys::ibv_query_device(ctx, &mut attr) };
    if r != 0 {
        return Err(Error::verb("ibv_query_device", String::new(), Some(r)));
    }
    Ok(attr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtus_and_gids_read_as_people_write_them() {
        assert_eq!(mtu_bytes(3), 1024);
        assert_eq!(mtu_bytes(5), 4096);
        assert_eq!(mtu_bytes(0), 0);
        let mut g = [0u8; 16];
        g[10] = 0xff;
        g[11] = 0xff;
        g[12..].copy_from_slice(&[10, 9, 0, 1]);
        assert_eq!(Gid(&g).to_string(), "::ffff:10.9.0.1");
    }
}
