//! hyper 1 client and server over a loopback socket, under the default clock and under
//! `autojump`: the handler's virtual delay is exact, and the auto clock does not run ahead
//! of the socket.

use std::convert::Infallible;
use std::time::Duration;

use async_testkit::time::elapsed;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Answers `/slow` after 100 ms of (virtual) time, anything else at once with 404.
async fn handler(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/slow" {
        tokio::time::sleep(ms(100)).await;
        Ok(Response::new(Full::new(Bytes::from_static(b"done"))))
    } else {
        let mut not_found = Response::new(Full::new(Bytes::new()));
        *not_found.status_mut() = StatusCode::NOT_FOUND;
        Ok(not_found)
    }
}

type Client = hyper::client::conn::http1::SendRequest<Full<Bytes>>;
type Conn = async_testkit::JoinHandle<hyper::Result<()>>;

/// A server for one connection on a loopback port (a task named "server", which returns
/// how the connection ended) and a client connected to it (its connection driven by a
/// task named "client conn").
async fn serve_and_connect() -> (Client, Conn, Conn) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async_testkit::task::Builder::new()
        .name("server")
        .spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), hyper::service::service_fn(handler))
                .await
        });
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let client_conn = async_testkit::task::Builder::new()
        .name("client conn")
        .spawn(conn);
    (sender, client_conn, server)
}

fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// Sends `/slow` and `/missing` over one client connection; returns what came back and
/// when.
async fn round_trips() -> Vec<(StatusCode, String, Duration)> {
    let (mut sender, client_conn, server) = serve_and_connect().await;
    let mut answers = Vec::new();
    for path in ["/slow", "/missing"] {
        let resp = sender.send_request(get(path)).await.unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        answers.push((status, String::from_utf8(body.to_vec()).unwrap(), elapsed()));
    }
    // Closing the client ends both connections: nothing leaks.
    drop(sender);
    client_conn.await.unwrap().unwrap();
    server.await.unwrap().unwrap();
    answers
}

fn expected() -> Vec<(StatusCode, String, Duration)> {
    vec![
        (StatusCode::OK, "done".into(), ms(100)),
        (StatusCode::NOT_FOUND, String::new(), ms(100)),
    ]
}

#[async_testkit::test]
async fn hyper_over_loopback_on_the_default_clock() {
    assert_eq!(round_trips().await, expected());
}

#[async_testkit::test(clock = "autojump(10ms)")]
async fn hyper_over_loopback_on_the_autojump_clock() {
    assert_eq!(round_trips().await, expected());
}

#[async_testkit::test]
async fn a_client_timeout_shorter_than_the_handler_fires_at_its_virtual_deadline() {
    let (mut sender, client_conn, server) = serve_and_connect().await;
    let req = get("/slow");
    let outcome = tokio::time::timeout(ms(40), sender.send_request(req)).await;
    assert!(
        outcome.is_err(),
        "the handler takes 100 ms: the 40 ms timeout must fire"
    );
    assert_eq!(elapsed(), ms(40));
    drop(sender);
    client_conn.await.unwrap().unwrap();
    // The server sees the client go at once: the handler is dropped mid-sleep.
    let served = server.await.unwrap().unwrap_err();
    assert!(served.is_incomplete_message(), "{served:?}");
    assert_eq!(elapsed(), ms(40));
}
