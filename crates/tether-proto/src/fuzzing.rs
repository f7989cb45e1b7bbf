//! Entry points shared by the cargo-fuzz target (`fuzz/`) and the seed
//! corpus test, so both exercise exactly the same code. Not API.

use crate::codec::{
    MAX_HELLO_FRAME, MAX_REQUEST_FRAME, MAX_RESPONSE_FRAME, encode_frame, parse_frame,
};
use crate::handshake::{Hello, HelloReply};
use crate::message::Response;
use crate::permission::Policy;
use crate::request::{Call, Request};
use crate::role::{Role, Tier};
use crate::screen::{MAX_SCREEN_FRAME, MAX_VIEWER_FRAME, ScreenMessage, ViewerMessage};
use crate::session::{AgentSession, SessionContext};

/// Feeds `data` to every decoder a peer can reach. Panics only on a bug:
/// a decoder that panics, or a decoded message that does not survive
/// re-encoding.
pub fn decode_everything(data: &[u8]) {
    if let Ok(Some((request, used))) = parse_frame::<Request, MAX_REQUEST_FRAME>(data) {
        assert!(used <= data.len());
        let again =
            encode_frame::<_, MAX_REQUEST_FRAME>(&request).expect("decoded request re-encodes");
        let (back, _) = parse_frame::<Request, MAX_REQUEST_FRAME>(&again)
            .expect("re-encoded request parses")
            .expect("re-encoded request is complete");
        assert_eq!(back, request);
    }
    if let Ok(Some((response, _))) = parse_frame::<Response, MAX_RESPONSE_FRAME>(data) {
        let again =
            encode_frame::<_, MAX_RESPONSE_FRAME>(&response).expect("decoded response re-encodes");
        assert!(parse_frame::<Response, MAX_RESPONSE_FRAME>(&again).is_ok_and(|r| r.is_some()));
    }
    if let Ok(Some((request, _))) = parse_frame::<Request, MAX_REQUEST_FRAME>(data) {
        // Validation and the audit summary run on every admitted request.
        let _ = request.validate();
        let _ = request.audit_summary();
    }
    // The view stream, both directions.
    if let Ok(Some((message, _))) = parse_frame::<ScreenMessage, MAX_SCREEN_FRAME>(data) {
        let again =
            encode_frame::<_, MAX_SCREEN_FRAME>(&message).expect("screen message re-encodes");
        assert!(parse_frame::<ScreenMessage, MAX_SCREEN_FRAME>(&again).is_ok_and(|m| m.is_some()));
    }
    if let Ok(Some((message, _))) = parse_frame::<ViewerMessage, MAX_VIEWER_FRAME>(data) {
        if let ViewerMessage::Input(event) = &message {
            let _ = event.validate();
        }
        let again =
            encode_frame::<_, MAX_VIEWER_FRAME>(&message).expect("viewer message re-encodes");
        assert!(parse_frame::<ViewerMessage, MAX_VIEWER_FRAME>(&again).is_ok_and(|m| m.is_some()));
    }
    if data.len() <= MAX_HELLO_FRAME {
        let _ = Hello::decode(data);
        let _ = HelloReply::decode(data);
        let mut session = AgentSession::new(SessionContext {
            agent_name: "fuzz".into(),
            agent_software: "fuzz".into(),
            session_id: "0".into(),
            technician: "fuzz".into(),
            role: Role::Tier(Tier::One),
            policy: Policy::default(),
        });
        if session.handle_hello(data).is_ok() {
            let _ = session.admit(&Request::Call(Call::Info));
        }
    }
}
