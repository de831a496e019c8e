//! Separate OS processes over real TCP on 127.0.0.1: a parent node holding
//! objects and two child processes (this test binary re-executed in child
//! mode) that join, catch up by sync, and receive a new object by gossip.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chorus_core::testkit::Fixture;
use chorus_net::testkit::*;
use chorus_net::{MemoryStore, Multiaddr, NetConfig, NetworkEvent};

const CHILD_ENV: &str = "CHORUS_NET_TEST_CHILD";
const BACKLOG: usize = 200;

fn loopback_config(bootstrap: Vec<Multiaddr>) -> NetConfig {
    let mut c = NetConfig::loopback();
    c.listen_addrs = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    c.bootstrap = bootstrap;
    c.sync_interval = Duration::from_secs(1);
    c.mdns = false;
    c
}

/// Child mode: joins the parent given in the env var and exits 0 once it
/// holds the backlog and the object published later (identified by title).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_process_node() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let (index, parent) = spec.split_once(' ').expect("child spec: <index> <multiaddr>");
    let index: u32 = index.parse().unwrap();
    let f = Fixture::new(4);
    let store = Arc::new(MemoryStore::new(f.coalition.clone()));
    let node = start(loopback_config(vec![parent.parse().unwrap()]), identity(&f, index, index as usize), store).await;
    let late = f.proposal(0, "Published later", 5_000, None);
    wait_for("child holds the backlog and the late object", || async {
        node.store.len() == 1 + BACKLOG + 1 && node.store.contains(&late.id())
    })
    .await;
    println!("CHILD {index} HOLDS {}", node.store.len());
    node.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_in_separate_processes_sync_and_gossip_over_tcp() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let f = Fixture::new(4);
    let store = Arc::new(MemoryStore::new(f.coalition.clone()));
    store_all(&store, &proposals(&f, "Backlog", BACKLOG, 10));
    let mut parent = start(loopback_config(vec![]), identity(&f, 0, 0), store.clone()).await;
    assert!(parent.addr.to_string().starts_with("/ip4/127.0.0.1/tcp/"), "{}", parent.addr);

    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (1..=2u32)
        .map(|i| {
            Command::new(&exe)
                .args(["--exact", "child_process_node", "--nocapture", "--test-threads=1"])
                .env(CHILD_ENV, format!("{i} {}", parent.addr))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn child process")
        })
        .collect();

    // Once both children are verified members, publish a new object: they
    // get the backlog by sync and this one by gossip (or sync, if it races).
    let mut verified = 0;
    while verified < 2 {
        next_event(&mut parent.events, |e| matches!(e, NetworkEvent::PeerVerified { .. }).then_some(())).await;
        verified += 1;
    }
    let late = f.proposal(0, "Published later", 5_000, None);
    store_all(&store, std::slice::from_ref(&late));
    parent.handle.publish(late.bytes().to_vec()).await.unwrap();

    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&format!("HOLDS {}", 1 + BACKLOG + 1)),
            "child failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        println!("{}", stdout.lines().find(|l| l.contains("HOLDS")).unwrap_or_default());
    }
    parent.handle.shutdown().await.unwrap();
}
