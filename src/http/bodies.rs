//! Bodies the front door watches: a request body that records whether it was read to its end
//! (an early refusal that leaves it unread must close the connection, and say so), and a response
//! body that counts as open until it ends or is dropped (the drain waits for results in flight).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;

/// A request body that sets its flag once read to the end.
pub struct Watched<B> {
    inner: Pin<Box<B>>,
    ended: Arc<AtomicBool>,
}

/// Whether a request carries a body at all (`Content-Length` above 0, or chunked).
pub fn has_body<B>(request: &Request<B>) -> bool {
    let headers = request.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// The request with its body watched, and the flag that says it was read to the end.
pub fn watch<B: Body>(request: Request<B>) -> (Request<Watched<B>>, Arc<AtomicBool>) {
    let ended = Arc::new(AtomicBool::new(false));
    let flag = ended.clone();
    let request = request.map(|inner| Watched { inner: Box::pin(inner), ended });
    (request, flag)
}

impl<B: Body> Body for Watched<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let polled = this.inner.as_mut().poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.ended.store(true, Ordering::SeqCst);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.ended.store(true, Ordering::SeqCst);
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body counted in `open` until it ends or is dropped (the client went away).
struct Counted {
    inner: BoxBody<Bytes, Infallible>,
    open: Option<Arc<AtomicUsize>>,
}

impl Counted {
    fn close(&mut self) {
        if let Some(open) = self.open.take() {
            open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.close();
    }
}

impl Body for Counted {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.close();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `body`, counted in `open` while it streams.
pub fn counted(body: BoxBody<Bytes, Infallible>, open: &Arc<AtomicUsize>) -> BoxBody<Bytes, Infallible> {
    open.fetch_add(1, Ordering::SeqCst);
    Counted { inner: body, open: Some(open.clone()) }.boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    #[tokio::test]
    async fn watched_bodies_say_when_they_were_read_and_counted_ones_when_they_close() {
        let request = Request::builder().header("content-length", "3").body(Full::new(Bytes::from("abc"))).unwrap();
        assert!(has_body(&request));
        let (request, ended) = watch(request);
        assert!(!ended.load(Ordering::SeqCst));
        let _ = request.into_body().collect().await.unwrap();
        assert!(ended.load(Ordering::SeqCst));
        assert!(!has_body(&Request::builder().header("content-length", "0").body(()).unwrap()));
        assert!(!has_body(&Request::builder().body(()).unwrap()));

        let open = Arc::new(AtomicUsize::new(0));
        let read = counted(Full::new(Bytes::from("x")).boxed(), &open);
        let dropped = counted(Full::new(Bytes::from("y")).boxed(), &open);
        assert_eq!(open.load(Ordering::SeqCst), 2);
        let _ = read.collect().await.unwrap();
        assert_eq!(open.load(Ordering::SeqCst), 1);
        drop(dropped);
        assert_eq!(open.load(Ordering::SeqCst), 0);
    }
}
