//! Deliberation on a node started in this process: a draft with comments,
//! a reply and an amendment taken up by a revised draft, an early stance,
//! the author's opening, an objection with its reason, and a withdrawn
//! proposal; the control interface's `show` and the HTTP API's proposal
//! view carry the window, the comments, the notices and the revisions; the
//! certificate from the control socket is sealed by the node's trust key,
//! verifies offline and lists the objector.

use std::net::SocketAddr;
use std::time::Duration;

use chorus_core::testkit::{Fixture, T0};
use chorus_core::{
    certificate, Amendment, Endorsement, Envelope, Keypair, Kind, ObjectId, ProposalLink, Relation, Stance,
};
use chorus_node::config::Config;
use chorus_node::control::{CertificateResult, Client, ProposalDetail, Request, SubmitResult};
use chorus_node::daemon::{Node, StartOptions};
use chorus_node::datadir::{write_atomic, write_new_secret, DataDir};
use serde_json::Value;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET path` on the node's website: the status and the JSON body.
async fn get(server: SocketAddr, path: &str) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut reply)).await;
    assert!(read.is_ok(), "GET {path}: no complete answer in time");
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&reply[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_slice(&reply[split + 4..]).unwrap_or(Value::Null))
}

/// A node of member 0 of `f` (its trust key is member 0's key), serving
/// the API with `publish`.
async fn member_node(f: &Fixture, publish: &str) -> (Node, SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let dd = DataDir::new(dir.path().join("node"));
    dd.init("Member Zero").unwrap();
    std::fs::remove_file(dd.trust_key_path()).unwrap();
    write_new_secret(&dd.trust_key_path(), &f.keys[0].seed()).unwrap();
    write_atomic(&dd.genesis_path(), f.coalition.genesis_envelope().bytes(), 0o600).unwrap();
    let config = Config {
        trust_name: "Member Zero".into(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
        http_addr: Some("127.0.0.1:0".parse().unwrap()),
        publish: Some(publish.into()),
        cache_mb: 8,
        log_level: "warn".into(),
        ..Config::default()
    };
    let node = Node::start(dd, config, StartOptions { no_fsync: true }).await.unwrap();
    let web = node.web_addr().unwrap();
    (node, web, dir)
}

fn objection(f: &Fixture, member: usize, proposal: ObjectId, reason: &str, offset_ms: u64) -> Envelope {
    let e = Endorsement {
        coalition: f.id(),
        proposal,
        trust: f.keys[member].public(),
        created_at_ms: T0 + offset_ms,
        stance: Stance::Object,
        comment: Some(reason.into()),
        delegation: None,
    };
    Envelope::sign(Kind::Endorsement, e.to_body(), &[&f.keys[member]])
}

/// Everything the tests submit, in an order the node takes at once.
struct Story {
    draft: Envelope,
    first: Envelope,
    reply: Envelope,
    amendment: Envelope,
    revision: Envelope,
    early: Envelope,
    opening: Envelope,
    objection: Envelope,
    withdrawn: Envelope,
    withdrawal: Envelope,
    all: Vec<Envelope>,
}

fn story(f: &Fixture) -> Story {
    let draft = f.draft(1, "Shared transport", 1, None, None);
    let first = f.comment(2, draft.id(), "Add the rural routes.", None, 2);
    let reply = f.comment(0, draft.id(), "Yes, and the school runs.", Some(first.id()), 3);
    let proposed = Amendment { body: "Shared transport, rural routes included.".into(), title: Some("Rural".into()) };
    let amendment = f.comment_by(&f.keys[2], f.keys[2].public(), draft.id(), "", None, Some(proposed), 4, None);
    let mut revised = f.draft_proposal(1, "Shared transport (revised)", 5, None, None);
    revised.link = Some(ProposalLink { target: draft.id(), relation: Relation::Amends });
    revised.amendments = vec![amendment.id()];
    let revision = Envelope::sign(Kind::Proposal, revised.to_body(), &[&f.keys[1]]);
    let early = f.endorsement(2, draft.id(), Stance::Endorse, 6);
    let opening = f.open_voting(1, draft.id(), 10);
    let objection = objection(f, 2, draft.id(), "Too costly for small trusts.", 13);
    let withdrawn = f.proposal(1, "Withdrawn idea", 20, None);
    let withdrawal = f.withdrawal(1, withdrawn.id(), Some("Superseded by the shared transport draft."), 21);
    let all = vec![
        draft.clone(),
        first.clone(),
        reply.clone(),
        amendment.clone(),
        revision.clone(),
        early.clone(),
        opening.clone(),
        f.endorsement(0, draft.id(), Stance::Endorse, 11),
        f.endorsement(1, draft.id(), Stance::Endorse, 12),
        objection.clone(),
        withdrawn.clone(),
        withdrawal.clone(),
    ];
    Story { draft, first, reply, amendment, revision, early, opening, objection, withdrawn, withdrawal, all }
}

async fn submit_all(client: &Client, objects: &[Envelope]) {
    for e in objects {
        let request = Request::Submit { envelope: hex::encode(e.bytes()) };
        let c = client.clone();
        let r: SubmitResult = tokio::task::spawn_blocking(move || c.call(&request)).await.unwrap().unwrap();
        assert_eq!(r.outcome.name(), "stored", "{} {}", e.kind(), e.id());
    }
}

async fn call<T: serde::de::DeserializeOwned + Send + 'static>(client: &Client, request: Request) -> T {
    let c = client.clone();
    tokio::task::spawn_blocking(move || c.call(&request)).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_carries_the_deliberation_and_the_certificate_is_sealed() {
    let f = Fixture::new(3);
    let s = story(&f);
    let (node, web, _dir) = member_node(&f, "everything").await;
    let client = Client::new(node.socket_path());
    submit_all(&client, &s.all).await;

    let d: ProposalDetail = call(&client, Request::Show { id: s.draft.id().to_hex(), comments: true }).await;
    assert_eq!(d.summary.status, "adopted");
    assert!(d.draft);
    assert_eq!(d.voting_opens_at_ms, None);
    let w = d.window.clone().expect("a window");
    assert_eq!((w.opens_at_ms, w.opened_by), (Some(T0 + 10), Some(s.opening.id())));
    assert_eq!((w.withdrawn_at_ms, w.closes_at_ms), (None, None));
    let ids: Vec<ObjectId> = d.comments.iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![s.first.id(), s.reply.id(), s.amendment.id()]);
    assert!(d.comments.iter().all(|c| c.counted));
    assert_eq!(d.comments[1].reply_to, Some(s.first.id()));
    assert_eq!(d.comments[0].trust, f.keys[2].public().to_hex());
    assert_eq!(d.comments[0].text, "Add the rural routes.");
    let a = d.comments[2].amendment.clone().expect("an amendment");
    // The proposed text is not carried: its length and hash are.
    let proposed = "Shared transport, rural routes included.";
    assert_eq!((a.title.as_deref(), a.body_len), (Some("Rural"), proposed.len()));
    assert_eq!(a.body_sha256, hex::encode(sha2::Sha256::digest(proposed.as_bytes())));
    assert_eq!(d.comments[2].taken_up_by, vec![s.revision.id()]);
    assert_eq!(d.comments_omitted, 0);
    assert_eq!(d.notices.len(), 1);
    assert_eq!(
        (d.notices[0].id, d.notices[0].kind.as_str(), d.notices[0].counted),
        (s.opening.id(), "open_voting", true)
    );
    assert_eq!(d.revisions, vec![s.revision.id()]);
    assert_eq!(d.revises, None);
    assert_eq!(d.summary.tally.early, 1);
    let objector = d.stances.iter().find(|t| t.trust == f.keys[2].public().to_hex()).unwrap();
    assert_eq!(objector.stance.as_deref(), Some("object"));
    assert_eq!(objector.comment.as_deref(), Some("Too costly for small trusts."));
    let timing: Vec<(ObjectId, &str)> = objector.record_timing.iter().map(|r| (r.id, r.timing.as_str())).collect();
    let mut expected = vec![(s.early.id(), "early"), (s.objection.id(), "on_time")];
    expected.sort();
    assert_eq!(timing, expected);
    assert_eq!(objector.records, expected.iter().map(|(id, _)| *id).collect::<Vec<_>>());

    let r: ProposalDetail = call(&client, Request::Show { id: s.revision.id().to_hex(), comments: true }).await;
    assert_eq!(r.summary.status, "draft");
    assert_eq!((r.revises, r.amendments.clone()), (Some(s.draft.id()), vec![s.amendment.id()]));
    assert_eq!(r.window.unwrap().opens_at_ms, None);

    let gone: ProposalDetail = call(&client, Request::Show { id: s.withdrawn.id().to_hex(), comments: true }).await;
    assert_eq!(gone.summary.status, "withdrawn");
    let w = gone.window.unwrap();
    assert_eq!((w.withdrawn_at_ms, w.withdrawn_by), (Some(T0 + 21), Some(s.withdrawal.id())));
    assert_eq!(w.withdrawal_reason.as_deref(), Some("Superseded by the shared transport draft."));
    assert_eq!(gone.notices[0].kind, "withdrawal");

    // The certificate: sealed by the node's trust key, the objection in it.
    let cert: CertificateResult = call(&client, Request::Certificate { id: s.draft.id().to_hex(), seal: true }).await;
    let bytes = hex::decode(cert.certificate).unwrap();
    let report = certificate::verify(&bytes, Some(f.id())).unwrap().require_seal().unwrap();
    let seal = report.seal.clone().expect("sealed");
    assert_eq!(
        (seal.trust, seal.signer, seal.delegation, seal.stances),
        (f.keys[0].public(), f.keys[0].public(), None, 3)
    );
    assert_eq!(report.objectors.len(), 1);
    assert_eq!(report.objectors[0].stance_id, s.objection.id());
    assert_eq!(report.objectors[0].comment.as_deref(), Some("Too costly for small trusts."));
    assert_eq!(report.window.opened_by, Some(s.opening.id()));
    // No certificate for a draft or a withdrawn proposal, and the error says why.
    for (id, why) in [(s.revision.id(), "is a draft"), (s.withdrawn.id(), "was withdrawn by its author")] {
        let c = client.clone();
        let request = Request::Certificate { id: id.to_hex(), seal: true };
        let answer = tokio::task::spawn_blocking(move || c.call::<CertificateResult>(&request)).await.unwrap();
        let error = answer.expect_err("no certificate").to_string();
        assert!(error.contains(why), "{error}");
    }
    // The website serves the same bytes.
    let path = format!("/certificates/{}.cert", s.draft.id().to_hex());
    let served = raw_get(web, &path).await;
    assert_eq!(served, bytes, "the website's certificate is the control socket's");

    // The API's view of the draft.
    let (status, v) = get(web, &format!("/api/v1/proposals/{}", s.draft.id().to_hex())).await;
    assert_eq!(status, 200, "{v}");
    let view = &v["node_view"];
    assert_eq!(view["status"], "adopted");
    assert_eq!(view["draft"], true);
    assert_eq!(view["tally"]["early"], 1);
    assert_eq!(view["window"]["opened_by"], s.opening.id().to_hex());
    assert_eq!(view["window"]["opens_at_ms"], T0 + 10);
    assert_eq!(view["comments"].as_array().unwrap().len(), 3);
    assert_eq!(view["comments"][1]["reply_to"], s.first.id().to_hex());
    assert_eq!(view["comments"][2]["counted"], true);
    assert_eq!(view["comments"][2]["taken_up_by"][0], s.revision.id().to_hex());
    assert_eq!(view["notices"][0]["kind"], "open_voting");
    assert_eq!(view["revisions"][0], s.revision.id().to_hex());
    assert_eq!(view["revises"], Value::Null);
    let kinds: Vec<&str> = v["comments"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    // The amendment's envelope (its proposed text) is fetched by id.
    assert_eq!(kinds, ["comment"; 2]);
    assert_eq!(v["comments"][0]["id"], s.first.id().to_hex());
    assert_eq!(v["notices"][0]["kind"], "kind-13");
    let objector = view["stances"].as_array().unwrap().iter().find(|t| t["stance"] == "object").unwrap();
    let timings: Vec<&str> =
        objector["record_timing"].as_array().unwrap().iter().map(|r| r["timing"].as_str().unwrap()).collect();
    assert!(timings.contains(&"early") && timings.contains(&"on_time"), "{objector}");
    let (_, list) = get(web, "/api/v1/proposals").await;
    let statuses: Vec<&str> =
        list["proposals"].as_array().unwrap().iter().map(|p| p["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["adopted", "draft", "withdrawn"]);
    node.shutdown().await.unwrap();
}

/// `GET path`: the body bytes of a 200.
async fn raw_get(server: SocketAddr, path: &str) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
    let head = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    assert!(reply.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&reply[..split]));
    reply[split + 4..].to_vec()
}

/// Under `publish = "positions"` the comments and notices of a position
/// are served, those of anything else are not; the write path takes the
/// new kinds, and refuses (422) one that awaits objects the node lacks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_are_shown_where_their_proposal_is_and_the_write_path_takes_them() {
    let f = Fixture::new(3);
    let s = story(&f);
    let (node, web, _dir) = member_node(&f, "positions").await;
    let client = Client::new(node.socket_path());
    submit_all(&client, &s.all).await;
    let object = |id: ObjectId| format!("/api/v1/objects/{}", id.to_hex());
    assert_eq!(get(web, &object(s.first.id())).await.0, 200, "a comment on a position");
    assert_eq!(get(web, &object(s.opening.id())).await.0, 200, "an opening of a position");
    assert_eq!(get(web, &object(s.withdrawal.id())).await.0, 404, "a withdrawal of a proposal not shown");
    assert_eq!(get(web, &object(s.revision.id())).await.0, 404, "a draft not shown");
    let (status, v) = get(web, &format!("/api/v1/proposals/{}", s.draft.id().to_hex())).await;
    assert_eq!(status, 200);
    assert_eq!(v["node_view"]["revisions"], serde_json::json!([]), "a revision not shown is not listed");
    assert_eq!(v["node_view"]["comments"][2]["taken_up_by"], serde_json::json!([]));

    // The write path: a comment is stored; one by a leader whose
    // delegation the node lacks is refused, saying what to submit first.
    let later = f.comment(1, s.draft.id(), "Thanks all.", Some(s.reply.id()), 30);
    let (status, answer) = post(web, later.bytes()).await;
    assert_eq!(status, 201, "{answer}");
    let leader = Keypair::from_seed(&[8; 32]);
    let delegation = f.delegation(&f.keys[1], f.keys[1].public(), leader.public(), None, 31);
    let by_leader = f.comment_by(
        &leader,
        f.keys[1].public(),
        s.draft.id(),
        "For the trust.",
        None,
        None,
        32,
        Some(delegation.id()),
    );
    let (status, answer) = post(web, by_leader.bytes()).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["code"], "unknown_signer", "{answer}");
    assert!(answer["reason"].as_str().unwrap().contains("delegation first"), "{answer}");
    node.shutdown().await.unwrap();
}

async fn post(server: SocketAddr, body: &[u8]) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
    let head = format!(
        "POST /api/v1/objects HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&reply[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_slice(&reply[split + 4..]).unwrap_or(Value::Null))
}
