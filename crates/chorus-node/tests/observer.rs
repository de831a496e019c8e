//! An observer's node started in this process from a data directory made by
//! `DataDir::init_observer` (PROTOCOL.md 14.9): its status says role
//! observer and never member, it takes no object to submit (control socket
//! and HTTP API refuse with one line), and it still reads: a back
//! catalogue imported from a backup is listed, and a position's
//! certificate is exported unsealed (an observer is no member).

use std::time::Duration;

use chorus_core::testkit::Fixture;
use chorus_core::Stance;
use chorus_node::config::Config;
use chorus_node::control::{BackupResult, Client, ProposalSummary, Request, StatusInfo};
use chorus_node::daemon::{Node, StartOptions};
use chorus_node::datadir::DataDir;
use chorus_node::observer::CANNOT_SUBMIT;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A blocking control call, off the async threads.
async fn call<T: serde::de::DeserializeOwned + Send + 'static>(
    dd: &DataDir,
    request: Request,
) -> chorus_node::Result<T> {
    let client = Client::new(dd.socket_path());
    tokio::task::spawn_blocking(move || client.call(&request)).await.unwrap()
}

/// POSTs `body` as an envelope to the node's API; the status and the body.
async fn post(server: std::net::SocketAddr, body: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
    let head = format!(
        "POST /api/v1/objects HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut reply)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&reply).to_string();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_reads_and_refuses_to_submit() {
    let f = Fixture::new(3);
    let tmp = tempfile::tempdir().unwrap();
    let dd = DataDir::new(tmp.path().join("observer"));
    dd.init_observer(&f.coalition, &[]).unwrap();

    // A back catalogue, as a member's backup holds it: one position
    // (two endorsements of three), one open proposal.
    let adopted = f.proposal(0, "Adopted", 10, None);
    let open = f.proposal(1, "Open", 20, None);
    let objects = [
        adopted.clone(),
        open.clone(),
        f.endorsement(0, adopted.id(), Stance::Endorse, 30),
        f.endorsement(1, adopted.id(), Stance::Endorse, 31),
    ];
    let backup = tmp.path().join("backup.chorus");
    {
        let config = chorus_store::StoreConfig { fsync: false, ..Default::default() };
        let store =
            chorus_store::Store::create(&tmp.path().join("member"), f.coalition.genesis_envelope().bytes(), config)
                .unwrap();
        let batch: Vec<Vec<u8>> = objects.iter().map(|e| e.bytes().to_vec()).collect();
        let admitted = store.ingest(&batch, chorus_core::testkit::T0 + 100).unwrap();
        assert!(admitted.iter().all(|a| matches!(a, chorus_core::Admission::Stored { .. })), "{admitted:?}");
        store.export(std::fs::File::create(&backup).unwrap()).unwrap();
        store.close().unwrap();
    }

    let mut config = Config::load(&dd.config_path()).unwrap();
    assert!(config.is_observer());
    config.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
    config.http_addr = Some("127.0.0.1:0".parse().unwrap());
    config.cache_mb = 8;
    config.log_level = "warn".into();
    let node = Node::start(dd.clone(), config, StartOptions { no_fsync: true }).await.unwrap();
    let web = node.web_addr().unwrap();

    let status: StatusInfo = call(&dd, Request::Status).await.unwrap();
    assert_eq!((status.role.as_str(), status.member), ("observer", false));
    assert_eq!(status.trust_key, status.node_key, "the node key stands in for a trust");

    // Nothing to submit, by either path, and nothing stored.
    let e = call::<serde_json::Value>(&dd, Request::Submit { envelope: hex::encode(open.bytes()) }).await.unwrap_err();
    assert!(e.to_string().contains(CANNOT_SUBMIT), "{e}");
    let (code, body) = post(web, open.bytes()).await;
    assert_eq!(code, 403, "{body}");
    assert!(body.contains(CANNOT_SUBMIT), "{body}");
    let listed: Vec<ProposalSummary> = call(&dd, Request::Proposals).await.unwrap();
    assert!(listed.is_empty());

    // A backup is read and verified like any object received.
    let imported: BackupResult = call(&dd, Request::Import { path: backup }).await.unwrap();
    assert_eq!((imported.stored, imported.refused), (4, 0));
    let positions: Vec<ProposalSummary> = call(&dd, Request::Positions).await.unwrap();
    assert_eq!(positions.iter().map(|p| p.id).collect::<Vec<_>>(), [adopted.id()]);
    let cert: serde_json::Value = call(
        &dd,
        serde_json::from_value(serde_json::json!({ "cmd": "certificate", "id": adopted.id().to_hex() })).unwrap(),
    )
    .await
    .unwrap();
    let bytes = hex::decode(cert["certificate"].as_str().unwrap()).unwrap();
    let report = chorus_core::certificate::verify(&bytes, Some(f.id())).unwrap();
    assert!(report.seal.is_none(), "an observer seals nothing");
    node.shutdown().await.unwrap();
}
