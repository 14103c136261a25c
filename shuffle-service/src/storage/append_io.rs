//! How partition records reach the disk: through io_uring when the kernel
//! allows it, through plain `write(2)` otherwise, with identical behaviour.
//!
//! The path is chosen once, when a store opens: `Auto` tries to set up a
//! ring and falls back to std if the kernel or a seccomp profile refuses
//! (common in containers). Every append is one whole record at the end of
//! an `O_APPEND` file; short writes are continued, and a failure is
//! reported to the caller, which rolls the file back.
//!
//! On this machine io_uring is no faster than `write(2)` for sequential
//! appends (the device is the limit, see the shared baselines); the ring is
//! there for batching and direct I/O later, and both paths stay tested.

use std::fs::File;
use std::io::{IoSlice, Write};
use std::os::fd::AsRawFd;

use io_uring::{opcode, types, IoUring};

/// Which write path to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoPreference {
    /// io_uring if the kernel allows it, std otherwise.
    #[default]
    Auto,
    /// io_uring or fail.
    Uring,
    /// Plain `write(2)`.
    Std,
}

/// The write path in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoPath {
    /// Submissions to an io_uring.
    Uring,
    /// `write(2)`.
    Std,
}

impl IoPath {
    /// The path's name in logs and metrics: `io_uring` or `std`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Uring => "io_uring",
            Self::Std => "std",
        }
    }
}

/// Appends bytes to files by the chosen path.
pub struct AppendIo {
    ring: Option<IoUring>,
}

impl std::fmt::Debug for AppendIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppendIo")
            .field("path", &self.path())
            .finish()
    }
}

impl AppendIo {
    /// Sets up the write path; `Uring` fails if the kernel refuses a ring.
    pub fn new(preference: IoPreference) -> std::io::Result<Self> {
        let ring = match preference {
            IoPreference::Std => None,
            IoPreference::Uring => Some(IoUring::new(8)?),
            IoPreference::Auto => match IoUring::new(8) {
                Ok(ring) => Some(ring),
                Err(error) => {
                    tracing::info!(%error, "io_uring unavailable; appending with write(2)");
                    None
                }
            },
        };
        Ok(Self { ring })
    }

    /// The path in use.
    pub fn path(&self) -> IoPath {
        if self.ring.is_some() {
            IoPath::Uring
        } else {
            IoPath::Std
        }
    }

    /// Appends all of `bytes` to `file` (opened with `O_APPEND`), whose
    /// current length is `offset`.
    pub fn append(&mut self, file: &File, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        self.append_parts(file, offset, &[bytes])
    }

    /// Appends `parts` back to back with vectored writes, so a record's
    /// header, payload and padding need no copy into one buffer.
    pub fn append_parts(
        &mut self,
        file: &File,
        offset: u64,
        parts: &[&[u8]],
    ) -> std::io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = parts
            .iter()
            .filter(|part| !part.is_empty())
            .map(|part| IoSlice::new(part))
            .collect();
        let mut remaining: &mut [IoSlice<'_>] = &mut slices;
        let mut written = 0u64;
        while !remaining.is_empty() {
            let n = match self.ring.as_mut() {
                None => (&*file).write_vectored(remaining)?,
                Some(ring) => uring_writev(ring, file, offset + written, remaining)?,
            };
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            written += n as u64;
            IoSlice::advance_slices(&mut remaining, n);
        }
        Ok(())
    }
}

/// One `writev` through the ring; returns the bytes written.
fn uring_writev(
    ring: &mut IoUring,
    file: &File,
    offset: u64,
    slices: &[IoSlice<'_>],
) -> std::io::Result<usize> {
    let count = u32::try_from(slices.len().min(1024)).unwrap_or(1024);
    // `IoSlice` is ABI-compatible with `iovec` on Unix (std guarantees it).
    let entry = opcode::Writev::new(
        types::Fd(file.as_raw_fd()),
        slices.as_ptr().cast::<libc::iovec>(),
        count,
    )
    .offset(offset)
    .build();
    // SAFETY: the iovecs and the memory they point to stay borrowed,
    // unmoved and alive until the completion below is reaped.
    unsafe { ring.submission().push(&entry) }
        .map_err(|_| std::io::Error::other("io_uring submission queue full"))?;
    ring.submit_and_wait(1)?;
    let result = ring
        .completion()
        .next()
        .map(|completion| completion.result())
        .ok_or_else(|| std::io::Error::other("io_uring returned no completion"))?;
    if result < 0 {
        Err(std::io::Error::from_raw_os_error(-result))
    } else {
        Ok(result as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_paths_append_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        for preference in [IoPreference::Std, IoPreference::Auto] {
            let mut io = AppendIo::new(preference).unwrap();
            let path = dir.path().join(format!("{:?}", io.path()));
            let file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .unwrap();
            io.append(&file, 0, b"hello ").unwrap();
            io.append(&file, 6, b"world").unwrap();
            assert_eq!(
                std::fs::read(&path).unwrap(),
                b"hello world",
                "{:?}",
                io.path()
            );
        }
    }
}
