//! A response body written chunk by chunk by a producer task, for answers too large to hold in
//! memory (the exports: a million dogs stream in 64 KiB chunks with flat memory).
//!
//! Two rules, each learnt from a download that looked fine and was not:
//! - The body may be polled after its end: `CompressionLayer` asks for one more frame after the
//!   last chunk, and a stream that panics then (`stream::unfold` does) cut every gzip or brotli
//!   download after its first chunk, that is, in every browser.
//! - The body ends cleanly only when the producer says it is complete ([`BodyWriter::finish`]).
//!   A producer that stops any other way (an error it reports with [`BodyWriter::fail`], an
//!   early return, a panic) ends the body in an error: the connection is cut without the last
//!   chunk and the client reports an incomplete download, where a CSV cut at a row boundary
//!   would otherwise look whole. The error is logged here, once (the trace layer does not log
//!   body errors).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::{Body, Bytes};
use tokio::sync::mpsc;

/// How many chunks a producer may run ahead of the client.
pub const CHANNEL_CHUNKS: usize = 16;

type Chunk = Result<Bytes, std::io::Error>;

/// The producer's end of a [`body`].
#[derive(Debug)]
pub struct BodyWriter {
    tx: mpsc::Sender<Chunk>,
    complete: Arc<AtomicBool>,
}

/// The client has gone (the download was cancelled): stop producing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientGone;

impl BodyWriter {
    /// Sends one chunk, waiting while the client is [`CHANNEL_CHUNKS`] behind.
    pub async fn send(&self, chunk: Bytes) -> Result<(), ClientGone> {
        self.tx.send(Ok(chunk)).await.map_err(|_| ClientGone)
    }

    /// The body is complete: it ends cleanly after the chunks sent.
    pub fn finish(self) {
        self.complete.store(true, Ordering::Release);
    }

    /// The body cannot be completed: it ends in an error saying `reason`, which is logged (no
    /// personal data in it).
    pub async fn fail(self, reason: String) {
        tracing::error!(reason = %reason, "a streamed answer failed; its transfer is cut");
        let _ = self.tx.send(Err(std::io::Error::other(reason))).await;
    }
}

/// A body and the writer that feeds it (see the module docs).
pub fn body() -> (BodyWriter, Body) {
    let (tx, mut rx) = mpsc::channel::<Chunk>(CHANNEL_CHUNKS);
    let complete = Arc::new(AtomicBool::new(false));
    let writer = BodyWriter {
        tx,
        complete: complete.clone(),
    };
    let mut ended = false;
    let stream = futures_util::stream::poll_fn(move |cx| {
        if ended {
            return std::task::Poll::Ready(None);
        }
        rx.poll_recv(cx).map(|next| match next {
            Some(Ok(chunk)) => Some(Ok(chunk)),
            Some(Err(e)) => {
                ended = true;
                Some(Err(e))
            }
            // Every writer is gone: finished, or stopped without saying so.
            None => {
                ended = true;
                (!complete.load(Ordering::Acquire)).then(|| {
                    let reason = "the producer of a streamed answer stopped before its end";
                    tracing::error!("{reason}; its transfer is cut");
                    Err(std::io::Error::other(reason))
                })
            }
        })
    });
    (writer, Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// The data of `body` up to its end or its first error, and whether it ended in an error.
    async fn drain(body: &mut Body) -> (Vec<u8>, bool) {
        let mut got = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => got.extend_from_slice(&f.into_data().unwrap_or_default()),
                Err(_) => return (got, true),
            }
        }
        (got, false)
    }

    #[tokio::test]
    async fn a_finished_body_ends_cleanly_and_may_be_polled_after_its_end() {
        let (writer, mut out) = body();
        tokio::spawn(async move {
            for part in ["a", "b", "c"] {
                let _ = writer.send(Bytes::from(part)).await;
            }
            writer.finish();
        });
        assert_eq!(drain(&mut out).await, (b"abc".to_vec(), false));
        // Asked again after its end, as CompressionLayer does: still the end, no panic.
        for _ in 0..3 {
            assert!(out.frame().await.is_none());
        }
    }

    #[tokio::test]
    async fn a_failed_body_ends_in_its_error() {
        let (writer, mut out) = body();
        tokio::spawn(async move {
            let _ = writer.send(Bytes::from("id,name\r\n")).await;
            writer.fail("export of dogs failed".into()).await;
        });
        assert_eq!(drain(&mut out).await, (b"id,name\r\n".to_vec(), true));
        assert!(out.frame().await.is_none());
    }

    #[tokio::test]
    async fn a_producer_that_returns_or_panics_without_finishing_ends_the_body_in_an_error() {
        let (writer, mut out) = body();
        tokio::spawn(async move {
            let _ = writer.send(Bytes::from("1\r\n")).await;
            // Returns without finish().
        });
        assert_eq!(drain(&mut out).await, (b"1\r\n".to_vec(), true));
        let (writer, mut out) = body();
        let task = tokio::spawn(async move {
            let _ = writer.send(Bytes::from("2\r\n")).await;
            panic!("a bug in the producer");
        });
        assert_eq!(drain(&mut out).await, (b"2\r\n".to_vec(), true));
        assert!(task.await.is_err());
    }
}
