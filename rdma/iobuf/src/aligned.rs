//! A zeroed, page-aligned heap allocation that never moves: the memory behind a registered region or
//! a pool batch (a device holds its address for as long as it is registered).

use crate::error::{Error, Result};

/// The alignment of every buffer here: a page, so that O_DIRECT file I/O and memory registration
/// (which pins whole pages) work on it.
pub const PAGE: usize = 4096;

/// A zeroed, page-aligned heap buffer that never moves.
pub struct AlignedBuf {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: AlignedBuf uniquely owns its allocation, like Box<[u8]>.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only hands out &[u8], like Box<[u8]>.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    pub fn zeroed(len: usize) -> Result<Self> {
        if len == 0 {
            return Err(Error::BadLength { len, why: "a buffer must not be empty" });
        }
        let layout = std::alloc::Layout::from_size_align(len, PAGE)
            .map_err(|_| Error::BadLength { len, why: "too large for one allocation" })?;
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        let ptr = std::ptr::NonNull::new(ptr).ok_or(Error::BadLength { len, why: "out of memory" })?;
        Ok(Self { ptr, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first byte. The pointer stays valid (and the bytes in place) until the buffer is dropped.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr is a live allocation of len initialised (zeroed) bytes owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, and &mut self makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        let layout = std::alloc::Layout::from_size_align(self.len, PAGE).expect("made in zeroed");
        // SAFETY: allocated in `zeroed` with this layout and not freed since.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) };
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBuf({:p}, {} bytes)", self.ptr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers_are_zeroed_and_aligned() {
        let b = AlignedBuf::zeroed(10_000).unwrap();
        assert_eq!(b.as_ptr() as usize % PAGE, 0);
        assert!(b.as_slice().iter().all(|&x| x == 0));
        assert!(AlignedBuf::zeroed(0).is_err());
        assert!(AlignedBuf::zeroed(usize::MAX - 10).is_err());
    }
}
