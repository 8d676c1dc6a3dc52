//! `OutputQueue`: the bytes waiting to be written to one client, with its limits.
//!
//! Pure data, no I/O: the event loop pushes a step's bytes, writes from
//! [`OutputQueue::front`] as far as the socket takes them (a partial write is
//! normal on a non-blocking socket) and reports what went with
//! [`OutputQueue::consume`].
//!
//! Two limits. At [`OUTPUT_QUEUE_BYTES_MAX`] the queue is *full*: the loop stops
//! reading that client's requests until the queue drains below it again
//! (backpressure: nothing is lost, the client's own writes just block). Requests
//! already read can still add their replies, and events keep coming, so a push is
//! accepted past the full mark up to [`OUTPUT_QUEUE_OVERFLOW_BYTES_MAX`]; only a
//! client that reads nothing at all while the machine keeps sending events gets
//! there, and the push that would pass it fails (the server then drops that
//! client).

use std::collections::VecDeque;

/// Bytes held for one client at which the server stops reading its requests.
pub const OUTPUT_QUEUE_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Most bytes held for one client at all; a push past it fails. Room above
/// [`OUTPUT_QUEUE_BYTES_MAX`] for the replies of one read's requests and for
/// events.
pub const OUTPUT_QUEUE_OVERFLOW_BYTES_MAX: usize = 2 * OUTPUT_QUEUE_BYTES_MAX;

/// A push would take the queue past its overflow limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Output queue over {limit_bytes} bytes")]
pub struct QueueFullError {
    /// The queue's overflow limit.
    pub limit_bytes: usize,
}

/// Bytes for one client, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputQueue {
    chunks: VecDeque<Vec<u8>>,
    /// Bytes of the front chunk already written.
    front_written: usize,
    held_bytes: usize,
    full_bytes: usize,
    limit_bytes: usize,
}

impl Default for OutputQueue {
    fn default() -> Self {
        OutputQueue::new(OUTPUT_QUEUE_BYTES_MAX, OUTPUT_QUEUE_OVERFLOW_BYTES_MAX)
    }
}

impl OutputQueue {
    /// An empty queue that is full at `full_bytes` and holds at most `limit_bytes`.
    pub fn new(full_bytes: usize, limit_bytes: usize) -> Self {
        OutputQueue {
            chunks: VecDeque::new(),
            front_written: 0,
            held_bytes: 0,
            full_bytes,
            limit_bytes,
        }
    }

    /// Queues `data`, unless that would hold more than the overflow limit.
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

    /// The next bytes to write (part of one chunk), if any.
    pub fn front(&self) -> Option<&[u8]> {
        self.chunks.front().map(|c| &c[self.front_written..])
    }

    /// Reports `n` bytes from [`front`](Self::front) as written.
    pub fn consume(&mut self, n: usize) {
        let front_len = self.front().map_or(0, <[u8]>::len);
        assert!(n <= front_len, "consumed more bytes than the front holds");
        self.held_bytes -= n;
        if n == front_len {
            self.chunks.pop_front();
            self.front_written = 0;
        } else {
            self.front_written += n;
        }
    }

    /// Takes everything queued, in order, as one buffer; the bytes stay counted
    /// until [`OutputQueue::written`] reports them (a writer thread's way).
    pub fn take(&mut self) -> Option<Vec<u8>> {
        let mut first = self.chunks.pop_front()?;
        let mut all = first.split_off(self.front_written);
        self.front_written = 0;
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

    /// Whether bytes are waiting to be written.
    pub fn has_queued(&self) -> bool {
        !self.chunks.is_empty()
    }

    /// Whether the queue holds [`OUTPUT_QUEUE_BYTES_MAX`] or more: time to stop
    /// reading the client.
    pub fn is_full(&self) -> bool {
        self.held_bytes >= self.full_bytes
    }

    /// Bytes queued or being written.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Forgets everything queued (the connection is gone); returns the bytes
    /// dropped. Bytes taken by a writer thread stay counted until written.
    pub fn clear(&mut self) -> usize {
        let mut queued: usize = self.chunks.drain(..).map(|c| c.len()).sum();
        queued -= self.front_written;
        self.front_written = 0;
        self.held_bytes -= queued;
        queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue full at 5 bytes and limited to 10, holding `chunks`.
    fn small_queue(chunks: &[&[u8]]) -> OutputQueue {
        let mut q = OutputQueue::new(5, 10);
        for chunk in chunks {
            q.push(chunk.to_vec()).unwrap();
        }
        q
    }

    /// A queue of the default limits holding `bytes`.
    fn default_queue_holding(bytes: usize) -> OutputQueue {
        let mut q = OutputQueue::default();
        q.push(vec![0; bytes]).unwrap();
        q
    }

    #[test]
    fn push_up_to_limit_is_accepted() {
        let mut q = small_queue(&[&[0; 4]]);
        assert_eq!(q.push(vec![0; 6]), Ok(()));
    }

    #[test]
    fn push_past_limit_is_refused() {
        let mut q = small_queue(&[&[0; 4]]);
        assert_eq!(q.push(vec![0; 7]), Err(QueueFullError { limit_bytes: 10 }));
    }

    #[test]
    fn refused_push_leaves_queue_unchanged() {
        let mut q = small_queue(&[&[1; 4]]);
        let _ = q.push(vec![2; 7]);
        assert_eq!(q.held_bytes(), 4);
    }

    #[test]
    fn default_queue_one_below_max_is_not_full() {
        let q = default_queue_holding(OUTPUT_QUEUE_BYTES_MAX - 1);
        assert!(!q.is_full());
    }

    #[test]
    fn default_queue_at_max_is_full() {
        let q = default_queue_holding(OUTPUT_QUEUE_BYTES_MAX);
        assert!(q.is_full());
    }

    #[test]
    fn full_queue_drained_one_byte_is_no_longer_full() {
        let mut q = default_queue_holding(OUTPUT_QUEUE_BYTES_MAX);
        q.consume(1);
        assert!(!q.is_full());
    }

    #[test]
    fn default_limit_accepts_exactly_overflow_max() {
        let mut q = OutputQueue::default();
        assert_eq!(q.push(vec![0; OUTPUT_QUEUE_OVERFLOW_BYTES_MAX]), Ok(()));
    }

    #[test]
    fn default_limit_refuses_one_past_overflow_max() {
        let mut q = OutputQueue::default();
        assert!(q
            .push(vec![0; OUTPUT_QUEUE_OVERFLOW_BYTES_MAX + 1])
            .is_err());
    }

    #[test]
    fn partial_writes_give_the_bytes_in_order() {
        let mut q = small_queue(&[b"abc", b"de"]);
        q.consume(2);
        let first = q.front().unwrap().to_vec();
        q.consume(1);
        assert_eq!(
            (first, q.front().unwrap().to_vec()),
            (b"c".to_vec(), b"de".to_vec())
        );
    }

    #[test]
    fn consumed_bytes_free_room() {
        let mut q = small_queue(&[&[0; 8]]);
        q.consume(8);
        assert_eq!((q.push(vec![0; 10]), q.has_queued()), (Ok(()), true));
    }

    #[test]
    fn take_joins_chunks_in_order_after_a_partial_write() {
        let mut q = small_queue(&[b"ab", b"cd"]);
        q.consume(1);
        assert_eq!(q.take(), Some(b"bcd".to_vec()));
    }

    #[test]
    fn taken_bytes_count_until_written() {
        let mut q = small_queue(&[&[0; 8]]);
        q.take();
        assert!(q.push(vec![0; 3]).is_err());
    }

    #[test]
    fn written_bytes_free_room() {
        let mut q = small_queue(&[&[0; 8]]);
        q.take();
        q.written(8);
        assert_eq!(q.push(vec![0; 10]), Ok(()));
    }

    #[test]
    fn take_on_empty_queue_is_none() {
        assert_eq!(OutputQueue::new(5, 10).take(), None);
    }

    #[test]
    fn clear_drops_queued_but_not_in_flight() {
        let mut q = small_queue(&[&[0; 3]]);
        q.take();
        q.push(vec![0; 2]).unwrap();
        q.clear();
        assert_eq!(q.held_bytes(), 3);
    }

    #[test]
    fn clear_after_a_partial_write_empties_the_queue() {
        let mut q = small_queue(&[&[0; 3]]);
        q.consume(1);
        q.clear();
        assert_eq!((q.held_bytes(), q.has_queued()), (0, false));
    }
}
