//! A response body fed chunk by chunk from a channel, for answers too large to hold in memory
//! (the exports: a million dogs stream in 64 KiB chunks with flat memory).
//!
//! The body must tolerate being polled after its end: `CompressionLayer` asks for one more
//! frame after the last chunk, and a stream that panics then (`stream::unfold` does) cuts every
//! gzip or brotli download after its first chunk, that is, in every browser.
//!
//! A producer that fails after the first byte sends [`abort`]: the body then ends in an error,
//! the connection is cut without the last chunk, and the client reports an incomplete download
//! (a CSV cut at a row boundary would otherwise look whole).

use axum::body::{Body, Bytes};
use tokio::sync::mpsc;

/// A piece of a streamed body, or the error that ends it.
pub type Chunk = Result<Bytes, std::io::Error>;

/// How many chunks a producer may run ahead of the client.
pub const CHANNEL_CHUNKS: usize = 16;

/// A channel for [`channel_body`]: the producer sends chunks, then drops its sender to end
/// the body.
pub fn channel() -> (mpsc::Sender<Chunk>, mpsc::Receiver<Chunk>) {
    mpsc::channel(CHANNEL_CHUNKS)
}

/// Ends the body on `tx` as failed (see the module docs); `what` is for the log only.
pub async fn abort(tx: &mpsc::Sender<Chunk>, what: &str) {
    let _ = tx
        .send(Err(std::io::Error::other(format!(
            "{what} failed mid-stream"
        ))))
        .await;
}

/// The body of the chunks that arrive on `rx`, in order, ending when every sender is gone.
/// A closed channel answers "no more" as often as it is asked, so the body ends cleanly
/// whatever polls it after its end.
pub fn channel_body(mut rx: mpsc::Receiver<Chunk>) -> Body {
    Body::from_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_channel_body_may_be_polled_after_its_end() {
        let (tx, rx) = channel();
        tokio::spawn(async move {
            for part in ["a", "b", "c"] {
                let _ = tx.send(Ok(Bytes::from(part))).await;
            }
        });
        let mut body = channel_body(rx);
        let mut got = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.expect("no error was sent");
            got.extend_from_slice(&frame.into_data().unwrap_or_default());
        }
        assert_eq!(got, b"abc");
        // Asked again after its end, as CompressionLayer does: still the end, no panic.
        for _ in 0..3 {
            assert!(body.frame().await.is_none());
        }
    }

    #[tokio::test]
    async fn an_aborted_body_ends_in_an_error_not_a_clean_end() {
        let (tx, rx) = channel();
        tokio::spawn(async move {
            let _ = tx.send(Ok(Bytes::from("id,name\r\n"))).await;
            abort(&tx, "export").await;
        });
        let mut body = channel_body(rx);
        assert!(body.frame().await.is_some_and(|f| f.is_ok()));
        assert!(body.frame().await.is_some_and(|f| f.is_err()));
    }
}
