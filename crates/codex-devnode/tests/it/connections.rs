//! The server under connections that do not behave: silent ones, stalled
//! ones, more than the cap; and a port that is already taken.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use codex_devnode::{Config, Devnode, Error};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::TestNode;

/// Reads until the server closes the connection (end of stream or reset),
/// failing the test if that takes longer than `deadline`. Returns what the
/// server sent first.
async fn closed_within(mut stream: TcpStream, deadline: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(deadline, read)
        .await
        .expect("the server closes the connection in time");
    got
}

async fn connect(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
        .await
        .expect("connects in time")
        .unwrap()
}

/// Uploads and downloads 200 KB, within `deadline`.
async fn round_trip(t: &TestNode, deadline: Duration) {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(deadline)
        .build()
        .unwrap();
    let work = async {
        let cid = http
            .post(t.url("/data"))
            .body(data.clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        http.get(t.url(&format!("/data/{cid}")))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    };
    let got = tokio::time::timeout(deadline, work)
        .await
        .expect("a real request is served in time");
    assert!(got[..] == data[..]);
}

#[tokio::test]
async fn two_hundred_silent_connections_neither_block_requests_nor_stay_open() {
    let t = TestNode::with(|c| c.header_read_timeout = Duration::from_secs(2)).await;
    let mut silent = Vec::new();
    for _ in 0..200 {
        silent.push(connect(t.node.local_addr()).await);
    }
    // Well before the silent ones time out, a real client gets through.
    round_trip(&t, Duration::from_secs(10)).await;
    let closed = futures::future::join_all(
        silent
            .into_iter()
            .map(|s| closed_within(s, Duration::from_secs(30))),
    )
    .await;
    assert_eq!(closed.len(), 200);
    round_trip(&t, Duration::from_secs(10)).await;
    t.stop().await;
}

#[tokio::test]
async fn at_the_connection_cap_silent_connections_make_room_for_a_real_one() {
    let t = TestNode::with(|c| {
        c.max_connections = 4;
        // Far beyond the deadlines below: what makes room is not this.
        c.header_read_timeout = Duration::from_secs(120);
    })
    .await;
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(connect(t.node.local_addr()).await);
    }
    let start = Instant::now();
    round_trip(&t, Duration::from_secs(20)).await;
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "served only once a silent connection was closed"
    );
    for s in silent {
        closed_within(s, Duration::from_secs(20)).await;
    }
    // Under the same pressure, a connection that spoke is kept: it asks
    // again on the same socket once the silent ones have been closed.
    let mut spoke = connect(t.node.local_addr()).await;
    let ask = b"GET /api/storage/v1/space HTTP/1.1\r\nHost: devnode\r\n\r\n";
    let mut buf = [0u8; 1024];
    for round in 0..2 {
        spoke.write_all(ask).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(10), spoke.read(&mut buf))
            .await
            .expect("answered in time")
            .unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "round {round}");
        if round == 0 {
            let silent: Vec<_> =
                futures::future::join_all((0..3).map(|_| connect(t.node.local_addr()))).await;
            round_trip(&t, Duration::from_secs(20)).await;
            for s in silent {
                closed_within(s, Duration::from_secs(20)).await;
            }
        }
    }
    t.stop().await;
}

#[tokio::test]
async fn a_request_that_stops_sending_is_closed_after_the_idle_timeout() {
    let t = TestNode::with(|c| c.idle_timeout = Duration::from_secs(1)).await;
    let mut stalled = connect(t.node.local_addr()).await;
    stalled
        .write_all(
            b"POST /api/storage/v1/data HTTP/1.1\r\nHost: devnode\r\n\
              Content-Length: 100000\r\n\r\nonly the first bytes",
        )
        .await
        .unwrap();
    closed_within(stalled, Duration::from_secs(15)).await;
    assert_eq!(
        t.http
            .get(t.url("/space"))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()["totalBlocks"],
        0,
        "nothing of the cut-off upload is stored"
    );
    t.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let t = TestNode::with(|c| c.header_read_timeout = Duration::from_secs(1)).await;
    let mut conn = connect(t.node.local_addr()).await;
    conn.write_all(b"GET /api/storage/v1/space HTTP/1.1\r\nHost: devnode\r\n\r\n")
        .await
        .unwrap();
    let answer = closed_within(conn, Duration::from_secs(15)).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "answered first, then closed: {}",
        String::from_utf8_lossy(&answer)
    );
    t.stop().await;
}

#[tokio::test]
async fn a_taken_port_fails_naming_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let mut config = Config::new(dir.path().join("second"));
    config.listen = addr;
    let err = Devnode::spawn(config).await.unwrap_err();
    assert!(
        matches!(&err, Error::Bind { addr: a, .. } if *a == addr),
        "{err:?}"
    );
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    assert!(
        !dir.path().join("second").exists(),
        "the store is not touched"
    );
    drop(taken);

    // Another devnode's port, on its address or on the wildcard: refused,
    // never shared.
    let first = TestNode::start().await;
    let port = first.node.local_addr().port();
    for listen in [
        first.node.local_addr(),
        SocketAddr::from(([0, 0, 0, 0], port)),
    ] {
        let mut config = Config::new(dir.path().join("third"));
        config.listen = listen;
        match Devnode::spawn(config).await {
            Err(Error::Bind { addr, .. }) => assert_eq!(addr, listen),
            Err(e) => panic!("{listen}: not a bind error: {e}"),
            Ok(second) => {
                let bound = second.local_addr();
                second.shutdown().await.unwrap();
                panic!("{listen}: a second devnode bound {bound}");
            }
        }
    }
    first.stop().await;
}
