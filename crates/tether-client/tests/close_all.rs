//! `close_all` ends, at the agent, sessions a program dropped on an error
//! path. Its own test binary: the registry is process-wide.

mod support;

use std::time::Duration;

use support::TestAgent;
use tether_client::Connector;
use tether_proto::{Role, Tier};

#[test]
fn sessions_dropped_unfinished_end_at_the_agent_on_close_all() {
    let agent = TestAgent::start();
    let options = agent.technician("dave", Role::Tier(Tier::One));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let connector = Connector::new(options).unwrap();
        for _ in 0..3 {
            let session = connector.connect(&agent.addr).await.unwrap();
            session.info().await.unwrap();
            drop(session);
        }
        tether_client::close_all().await;
    });
    // The runtime is gone, as when a program exits: the closes left before.
    drop(rt);
    assert!(
        agent.wait_for_log("session ended", 3, Duration::from_secs(3)),
        "the agent still holds sessions"
    );
}
