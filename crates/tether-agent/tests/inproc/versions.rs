//! Mixed versions: a request kind this agent does not know (a newer
//! controller's) gets `unsupported`, and the session goes on; the hello
//! tells each side what the other supports.

use quinn::VarInt;
use tether_proto::codec::{MAX_RESPONSE_FRAME, decode_payload};
use tether_proto::{Call, ErrorKind, RequestKind, Response, Role, Tier};
use tether_transport::framed;

use crate::harness::{TIMEOUT, TestAgent};

/// Sends a raw request payload on a new stream and decodes the reply.
async fn raw(client: &tether_transport::Client, payload: &[u8]) -> Response {
    let (mut send, mut recv) = client.connection().open_bi().await.unwrap();
    framed::write_payload(&mut send, payload.to_vec()).await.unwrap();
    send.finish().unwrap();
    let reply = framed::read_payload::<MAX_RESPONSE_FRAME>(&mut recv).await.unwrap();
    decode_payload::<Response, MAX_RESPONSE_FRAME>(&reply).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_request_kinds_at_every_level_are_unsupported_and_the_session_goes_on() {
    let agent = TestAgent::start("").await;
    let client = agent.connect(Role::Tier(Tier::Three)).await;
    // A new route, a new call, a new restore and screen request, a new
    // throughput direction: each as a newer controller would encode it.
    for payload in [&[3u8][..], &[0, 9], &[0, 6, 8], &[0, 7, 3], &[1, 2, 0]] {
        let Response::Error(reply) = raw(&client, payload).await else {
            panic!("{payload:?}: not an error reply");
        };
        assert_eq!(reply.kind, ErrorKind::Unsupported, "{payload:?}: {reply:?}");
        assert!(reply.message.contains("upgrade it"), "{}", reply.message);
    }
    // Still the same session.
    assert!(client.request(&Call::Info.into(), TIMEOUT).await.is_ok());
    assert!(client.connection().close_reason().is_none());
    assert_eq!(agent.records_of("unsupported").len(), 5);
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_request_still_closes_the_connection() {
    let agent = TestAgent::start("").await;
    let client = agent.connect(Role::Tier(Tier::One)).await;
    let (mut send, _recv) = client.connection().open_bi().await.unwrap();
    // A known call (info) with trailing garbage.
    framed::write_payload(&mut send, vec![0, 0, 9, 9]).await.unwrap();
    send.finish().unwrap();
    let closed = tokio::time::timeout(TIMEOUT, client.connection().closed()).await.unwrap();
    let quinn::ConnectionError::ApplicationClosed(close) = closed else {
        panic!("{closed:?}");
    };
    assert_eq!(close.error_code, VarInt::from_u32(tether_proto::close::PROTOCOL_VIOLATION));
    agent.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_welcome_lists_every_kind_this_agent_serves() {
    let agent = TestAgent::start("").await;
    let client = agent.connect(Role::Fleet).await;
    for &kind in RequestKind::ALL {
        assert!(client.welcome().supports(kind), "{kind}");
    }
    assert_eq!(client.welcome().supported.len(), RequestKind::ALL.len());
    agent.stop().await;
}
