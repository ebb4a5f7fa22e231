//! The requests the cases are made of, each a job on the [`Peer`]'s reactor and a wait for its
//! answer. RDMA buffers are named by a number the case picks and stay with the connection.

use engine::rdma::Access;
use smb_client_proto::{Completion, FileHandle, RequestId, TreeHandle};
use smb_wire::create::{access_mask, create_options, CreateDisposition};
use smb_wire::smbd::BufferDescriptorV1;
use smb_wire::status::NtStatus;

use crate::puppet::Peer;

/// What a request's completion was, with the token its message invalidated.
pub type Answer = (Completion, Option<u32>);

impl Peer {
    /// Sends the request `build` makes and waits for its answer.
    fn request(
        &mut self,
        what: &'static str,
        build: impl FnOnce(&mut smb_client_proto::ClientConnection) -> Result<(RequestId, Vec<u8>), String>
            + Send
            + 'static,
    ) -> Result<Answer, String> {
        let id = self.run(move |p, _, out| {
            let (id, bytes) = build(&mut p.conn)?;
            out.push(&bytes);
            Ok::<_, String>(id)
        })??;
        self.answer(id).map_err(|e| format!("{what}: {e}"))
    }

    pub fn tree(&mut self, unc: &str) -> Result<TreeHandle, String> {
        let unc = unc.to_string();
        match self.request("TREE_CONNECT", move |c| c.tree_connect(&unc).map_err(|e| e.to_string()))? {
            (Completion::TreeConnected { tree, .. }, _) => Ok(tree),
            (other, _) => Err(format!("TREE_CONNECT answered {other:?}")),
        }
    }

    /// Opens `name` for reading and writing, created empty.
    pub fn create(&mut self, tree: TreeHandle, name: &str) -> Result<FileHandle, String> {
        self.create_with(tree, name, CreateDisposition::OVERWRITE_IF)
    }

    /// Opens the existing file `name` for reading and writing.
    pub fn open(&mut self, tree: TreeHandle, name: &str) -> Result<FileHandle, String> {
        self.create_with(tree, name, CreateDisposition::OPEN)
    }

    fn create_with(
        &mut self,
        tree: TreeHandle,
        name: &str,
        how: CreateDisposition,
    ) -> Result<FileHandle, String> {
        let name = name.to_string();
        let access = access_mask::GENERIC_READ | access_mask::GENERIC_WRITE;
        let answer = self.request("CREATE", move |c| {
            c.create(tree, &name, access, how, create_options::NON_DIRECTORY_FILE).map_err(|e| e.to_string())
        })?;
        match answer {
            (Completion::Created { file, .. }, _) => Ok(file),
            (other, _) => Err(format!("CREATE answered {other:?}")),
        }
    }

    /// A WRITE with the data in the message.
    pub fn write_inline(&mut self, file: FileHandle, offset: u64, data: &[u8]) -> Result<(), String> {
        let data = data.to_vec();
        let len = data.len() as u32;
        match self.request("WRITE", move |c| c.write(file, offset, &data).map_err(|e| e.to_string()))? {
            (Completion::Written { count, .. }, _) if count == len => Ok(()),
            (other, _) => Err(format!("WRITE answered {other:?}")),
        }
    }

    /// A READ with the data in the response; `Err(status)` inside for an error status.
    pub fn read_inline(
        &mut self,
        file: FileHandle,
        offset: u64,
        len: u32,
    ) -> Result<Result<Vec<u8>, NtStatus>, String> {
        match self.request("READ", move |c| c.read(file, offset, len).map_err(|e| e.to_string()))? {
            (Completion::Read { data, .. }, _) => Ok(Ok(data.into_vec())),
            (Completion::Error { status, .. }, _) => Ok(Err(status)),
            (other, _) => Err(format!("READ answered {other:?}")),
        }
    }

    /// Takes a registered buffer of `len` bytes filled with `fill`, held as `name`, and grants the
    /// server `access` to all of it through a new window.
    pub fn grant(&mut self, name: u64, fill: Vec<u8>, access: Access) -> Result<BufferDescriptorV1, String> {
        self.run(move |p, rdma, out| {
            let rdma = rdma.ok_or("not an SMB Direct connection")?;
            let mut lease = out.lease(fill.len()).ok_or("no registered memory free")?;
            lease[..fill.len()].copy_from_slice(&fill);
            let desc = rdma.grant(&lease, 0, fill.len(), access).map_err(|e| e.to_string())?;
            p.buffers.insert(name, lease);
            Ok(desc)
        })?
    }

    /// Overwrites held buffer `name` with `fill` (the server may still hold a window over it).
    pub fn fill(&mut self, name: u64, fill: Vec<u8>) -> Result<(), String> {
        self.run(move |p, _, _| {
            let lease = p.buffers.get_mut(&name).ok_or("no such buffer")?;
            lease[..fill.len()].copy_from_slice(&fill);
            Ok(())
        })?
    }

    /// The first `len` bytes of held buffer `name`.
    pub fn bytes(&mut self, name: u64, len: usize) -> Result<Vec<u8>, String> {
        self.run(move |p, _, _| {
            p.buffers.get(&name).map(|l| l[..len].to_vec()).ok_or("no such buffer".into())
        })?
    }

    /// Sends a READ of `len` bytes at `offset` whose data is to be RDMA-written into `descs`
    /// (RDMA_V1_INVALIDATE: the response revokes the first token), without waiting.
    pub fn send_read_rdma(
        &mut self,
        file: FileHandle,
        offset: u64,
        len: u32,
        descs: Vec<BufferDescriptorV1>,
    ) -> Result<RequestId, String> {
        self.run(move |p, _, out| {
            let (id, bytes) = p.conn.read_rdma(file, offset, len, &descs, true).map_err(|e| e.to_string())?;
            out.push(&bytes);
            Ok(id)
        })?
    }

    /// Sends a WRITE of `len` bytes at `offset` whose payload is to be RDMA-read from `descs`, by
    /// plain RDMA whatever the share requires.
    pub fn send_write_rdma(
        &mut self,
        file: FileHandle,
        offset: u64,
        len: u32,
        descs: Vec<BufferDescriptorV1>,
    ) -> Result<RequestId, String> {
        self.run(move |p, _, out| {
            let (id, bytes) =
                p.conn.write_rdma_unprotected(file, offset, len, &descs, true).map_err(|e| e.to_string())?;
            out.push(&bytes);
            Ok(id)
        })?
    }
}
