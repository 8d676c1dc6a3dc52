//! `OutputQueue`: the bytes waiting to be written to one client, with a hard limit.
//!
//! Pure data, no I/O: the engine loop pushes, the connection's writer thread takes
//! everything queued, writes it, then reports it written. Bytes being written still
//! count against the limit until they are reported, so a client that stops reading
//! cannot make the server hold more than [`OUTPUT_QUEUE_BYTES_MAX`] for it: the push
//! that would pass the limit fails, and the server drops that client.

use std::collections::VecDeque;

/// Most bytes held for one client (queued plus being written).
pub const OUTPUT_QUEUE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// A push would take the queue past its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Output queue over {limit_bytes} bytes")]
pub struct QueueFullError {
    /// The queue's limit.
    pub limit_bytes: usize,
}

/// Bytes for one client, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputQueue {
    chunks: VecDeque<Vec<u8>>,
    held_bytes: usize,
    limit_bytes: usize,
}

impl Default for OutputQueue {
    fn default() -> Self {
        OutputQueue::new(OUTPUT_QUEUE_BYTES_MAX)
    }
}

impl OutputQueue {
    /// An empty queue holding at most `limit_bytes`.
    pub fn new(limit_bytes: usize) -> Self {
        OutputQueue {
            chunks: VecDeque::new(),
            held_bytes: 0,
            limit_bytes,
        }
    }

    /// Queues `data`, unless that would hold more than the limit.
    pub fn push(&mut self, data: Vec<u8>) -> Result<(), QueueFullError> {
        let held = self.held_bytes.saturating_add(data.len());
        if held > self.limit_bytes {
            return Err(QueueFullError {
                limit_bytes: self.limit_bytes,
            });
        }
        self.held_bytes = held;
        if !data.is_empty() {
            self.chunks.push_back(data);
        }
        Ok(())
    }

    /// Takes everything queued, in order, as one buffer; the bytes stay counted until
    /// [`OutputQueue::written`] reports them.
    pub fn take(&mut self) -> Option<Vec<u8>> {
        let first = self.chunks.pop_front()?;
        let mut all = first;
        for chunk in self.chunks.drain(..) {
            all.extend_from_slice(&chunk);
        }
        Some(all)
    }

    /// Reports `n` taken bytes as written.
    pub fn written(&mut self, n: usize) {
        assert!(n <= self.held_bytes, "written more bytes than were taken");
        self.held_bytes -= n;
    }

    /// Whether bytes are waiting to be taken.
    pub fn has_queued(&self) -> bool {
        !self.chunks.is_empty()
    }

    /// Bytes queued or being written.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Forgets everything queued (the connection is gone); returns the bytes dropped.
    pub fn clear(&mut self) -> usize {
        let queued: usize = self.chunks.drain(..).map(|c| c.len()).sum();
        self.held_bytes -= queued;
        queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_up_to_limit_is_accepted() {
        let mut q = OutputQueue::new(10);
        q.push(vec![0; 4]).unwrap();
        assert_eq!(q.push(vec![0; 6]), Ok(()));
    }

    #[test]
    fn push_past_limit_is_refused() {
        let mut q = OutputQueue::new(10);
        q.push(vec![0; 4]).unwrap();
        assert_eq!(q.push(vec![0; 7]), Err(QueueFullError { limit_bytes: 10 }));
    }

    #[test]
    fn refused_push_leaves_queue_unchanged() {
        let mut q = OutputQueue::new(10);
        q.push(vec![1; 4]).unwrap();
        let _ = q.push(vec![2; 7]);
        assert_eq!(q.held_bytes(), 4);
    }

    #[test]
    fn default_limit_accepts_exactly_max() {
        let mut q = OutputQueue::default();
        assert_eq!(q.push(vec![0; OUTPUT_QUEUE_BYTES_MAX]), Ok(()));
    }

    #[test]
    fn default_limit_refuses_one_past_max() {
        let mut q = OutputQueue::default();
        assert!(q.push(vec![0; OUTPUT_QUEUE_BYTES_MAX + 1]).is_err());
    }

    #[test]
    fn take_joins_chunks_in_order() {
        let mut q = OutputQueue::new(10);
        q.push(b"ab".to_vec()).unwrap();
        q.push(b"cd".to_vec()).unwrap();
        assert_eq!(q.take(), Some(b"abcd".to_vec()));
    }

    #[test]
    fn taken_bytes_count_until_written() {
        let mut q = OutputQueue::new(10);
        q.push(vec![0; 8]).unwrap();
        q.take();
        assert!(q.push(vec![0; 3]).is_err());
    }

    #[test]
    fn written_bytes_free_room() {
        let mut q = OutputQueue::new(10);
        q.push(vec![0; 8]).unwrap();
        q.take();
        q.written(8);
        assert_eq!(q.push(vec![0; 10]), Ok(()));
    }

    #[test]
    fn take_on_empty_queue_is_none() {
        assert_eq!(OutputQueue::new(10).take(), None);
    }

    #[test]
    fn clear_drops_queued_but_not_in_flight() {
        let mut q = OutputQueue::new(10);
        q.push(vec![0; 3]).unwrap();
        q.take();
        q.push(vec![0; 2]).unwrap();
        q.clear();
        assert_eq!(q.held_bytes(), 3);
    }
}
