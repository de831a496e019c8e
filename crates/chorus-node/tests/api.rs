//! The HTTP API of a node started in this process: every read route gives
//! the exact stored envelopes, and the one write path is bounded (size,
//! garbage, replays, forgeries, floods from one address, one signer or
//! everyone) and counted, keeps nothing waiting, and nothing else writes.

use std::net::SocketAddr;
use std::time::Duration;

use chorus_core::testkit::{member_key, Fixture};
use chorus_core::{Attribute, BreadthRule, Charter, Envelope, MemberAttributes, Stance};
use chorus_node::config::Config;
use chorus_node::control::{Client, ProposalDetail, ProposalSummary, Request};
use chorus_node::daemon::{Node, StartOptions};
use chorus_node::datadir::{write_atomic, DataDir};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// One HTTP/1.1 exchange from `source` (a loopback address): the status,
/// the head and the body. `body_sent` is written after the head, whatever
/// `content_length` says, and a write the server cut short is not an error.
async fn exchange(
    server: SocketAddr,
    source: [u8; 4],
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body_sent: &[u8],
) -> (u16, String, Vec<u8>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    let mut stream = socket.connect(server).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body_sent).await;
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut reply)).await;
    assert!(read.is_ok(), "{method} {path}: no complete answer in time");
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&reply[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, reply[split + 4..].to_vec())
}

async fn get(server: SocketAddr, path: &str) -> (u16, Value) {
    let (status, _, body) = exchange(server, [127, 0, 0, 1], "GET", path, &[], b"").await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn post_from(server: SocketAddr, source: [u8; 4], body: &[u8]) -> (u16, String, Value) {
    let headers =
        [("Content-Type", "application/octet-stream".to_string()), ("Content-Length", body.len().to_string())];
    let (status, head, body) = exchange(server, source, "POST", "/api/v1/objects", &headers, body).await;
    (status, head, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn post(server: SocketAddr, body: &[u8]) -> (u16, Value) {
    let (status, _, json) = post_from(server, [127, 0, 0, 1], body).await;
    (status, json)
}

/// The envelope a JSON answer carries, checked against its id and kind,
/// with its signatures verified by decoding alone (PROTOCOL.md 3.3 checks
/// the signature on ingest; here the bytes must equal what was stored).
fn envelope_of(v: &Value) -> Envelope {
    let text = v["envelope"].as_str().expect("an envelope field");
    let bytes = decode_b64(text);
    let e = Envelope::decode(&bytes).expect("the envelope decodes");
    assert_eq!(v["id"].as_str().unwrap(), e.id().to_hex());
    assert_eq!(v["kind"].as_str().unwrap(), e.kind().name());
    e
}

fn decode_b64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).expect("standard padded base64")
}

async fn metric(addr: SocketAddr, outcome: &str) -> u64 {
    let (_, _, body) = exchange(addr, [127, 0, 0, 1], "GET", "/metrics", &[], b"").await;
    let text = String::from_utf8(body).unwrap();
    let series = format!("chorus_api_submissions_total{{outcome=\"{outcome}\"}} ");
    let line = text.lines().find(|l| l.starts_with(&series)).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line[series.len()..].trim().parse().unwrap()
}

struct Running {
    node: Node,
    web: SocketAddr,
    metrics: SocketAddr,
    fixture: Fixture,
    _dir: tempfile::TempDir,
}

async fn start(publish: &str) -> Running {
    start_with(publish, |_| {}).await
}

/// A node as [`start`] makes it, with `adjust` applied to its configuration.
async fn start_with(publish: &str, adjust: impl FnOnce(&mut Config)) -> Running {
    start_on(Fixture::new(3), publish, adjust).await
}

/// A node as [`start_with`] makes it, serving the coalition of `fixture`.
async fn start_on(fixture: Fixture, publish: &str, adjust: impl FnOnce(&mut Config)) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let dd = DataDir::new(dir.path().join("node"));
    dd.init("Observer Trust").unwrap();
    write_atomic(&dd.genesis_path(), fixture.coalition.genesis_envelope().bytes(), 0o600).unwrap();
    let mut config = Config {
        trust_name: "Observer Trust".into(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
        http_addr: Some("127.0.0.1:0".parse().unwrap()),
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        publish: Some(publish.into()),
        cache_mb: 8,
        log_level: "warn".into(),
        // Twelve at once from an address or a signer (sixty from everyone),
        // then one a minute: the floods below run out long before the test
        // ends.
        api_submit_burst: 12,
        api_submits_per_minute: 1,
        api_submits_per_minute_per_signer: 1,
        api_submits_per_minute_total: 1,
        ..Config::default()
    };
    adjust(&mut config);
    let node = Node::start(dd, config, StartOptions { no_fsync: true }).await.unwrap();
    let web = node.web_addr().unwrap();
    let metrics = node.metrics_addr().unwrap();
    Running { node, web, metrics, fixture, _dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_give_the_stored_bytes_and_the_write_path_is_bounded() {
    let Running { node, web, metrics, fixture: f, _dir } = start("everything").await;
    for outcome in ["stored", "duplicate", "refused", "malformed", "too_large", "rate_limited", "failed"] {
        assert_eq!(metric(metrics, outcome).await, 0, "{outcome} is served at 0 from the start");
    }

    // Write: a new proposal is stored, then a duplicate.
    let proposal = f.proposal(0, "Shared transport", 1_000, None);
    let (status, body) = post(web, proposal.bytes()).await;
    assert_eq!((status, body["outcome"].as_str()), (201, Some("stored")), "{body}");
    assert_eq!(body["id"].as_str().unwrap(), proposal.id().to_hex());
    let (status, body) = post(web, proposal.bytes()).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("duplicate")), "{body}");
    // The JSON form of the same object.
    let json = format!("{{\"envelope\":\"{}\"}}", encode_b64(proposal.bytes()));
    let headers = [("Content-Type", "application/json".to_string()), ("Content-Length", json.len().to_string())];
    let (status, _, _) = exchange(web, [127, 0, 0, 1], "POST", "/api/v1/objects", &headers, json.as_bytes()).await;
    assert_eq!(status, 200);
    let stance = f.endorsement(1, proposal.id(), Stance::Endorse, 2_000);
    assert_eq!(post(web, stance.bytes()).await.0, 201);

    // Garbage, a wrong type, an oversized body (answered from its declared
    // length: only a little of it is ever sent), an unauthorised signer.
    let (status, body) = post(web, b"this is not an envelope").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("malformed")), "{body}");
    let headers = [("Content-Type", "text/plain".to_string()), ("Content-Length", "3".to_string())];
    assert_eq!(exchange(web, [127, 0, 0, 1], "POST", "/api/v1/objects", &headers, b"abc").await.0, 415);
    let headers =
        [("Content-Type", "application/octet-stream".to_string()), ("Content-Length", (10 << 20).to_string())];
    let (status, _, _) = exchange(web, [127, 0, 0, 1], "POST", "/api/v1/objects", &headers, &[0u8; 1024]).await;
    assert_eq!(status, 413);
    let mut chunked = Vec::new();
    for _ in 0..200 {
        chunked.extend_from_slice(format!("{:x}\r\n", 1024).as_bytes());
        chunked.extend_from_slice(&[7u8; 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let headers =
        [("Content-Type", "application/octet-stream".to_string()), ("Transfer-Encoding", "chunked".to_string())];
    let (status, _, _) = exchange(web, [127, 0, 0, 1], "POST", "/api/v1/objects", &headers, &chunked).await;
    assert_eq!(status, 413, "a body without a declared length is cut off at the limit");
    // A signature its claimed key did not make is refused.
    let mut forged = f.proposal(1, "Forged", 3_000, None).bytes().to_vec();
    *forged.last_mut().unwrap() ^= 1; // the last byte is the signature's
    let forged = Envelope::decode(&forged).expect("still a well-formed envelope");
    let (status, body) = post(web, forged.bytes()).await;
    assert_eq!((status, body["error"].as_str()), (422, Some("refused")), "{body}");
    assert_eq!(body["code"], "bad_signature", "{body}");
    assert!(!body["reason"].as_str().unwrap().is_empty(), "{body}");

    // Reads: each envelope is the stored bytes and verifies.
    let (status, c) = get(web, "/api/v1/coalition").await;
    assert_eq!(status, 200);
    assert_eq!(c["id"].as_str().unwrap(), f.id().to_hex());
    assert_eq!(envelope_of(&c["genesis"]).bytes(), f.coalition.genesis_envelope().bytes());
    let (status, r) = get(web, "/api/v1/roster").await;
    assert_eq!(status, 200);
    assert_eq!(r["members"].as_array().unwrap().len(), 3);
    assert_eq!(r["members"][0]["trust"], r["members"][0]["root_key"]);
    let (_, list) = get(web, "/api/v1/proposals").await;
    assert_eq!(list["proposals"][0]["id"].as_str().unwrap(), proposal.id().to_hex());
    assert_eq!(list["proposals"][0]["title"], "Shared transport");
    let (status, p) = get(web, &format!("/api/v1/proposals/{}", proposal.id().to_hex())).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(envelope_of(&p["proposal"]).bytes(), proposal.bytes());
    assert_eq!(envelope_of(&p["stances"][0]).bytes(), stance.bytes());
    assert_eq!(p["node_view"]["tally"]["endorse"], 1);
    let (status, o) = get(web, &format!("/api/v1/objects/{}", stance.id().to_hex())).await;
    assert_eq!((status, envelope_of(&o).bytes()), (200, stance.bytes()));
    assert_eq!(get(web, &format!("/api/v1/objects/{}", forged.id().to_hex())).await.0, 404);
    assert_eq!(get(web, "/api/v1/objects/nothex").await.0, 400);
    assert_eq!(get(web, "/api/v1/nothing").await.0, 404);
    let (status, head, body) = exchange(web, [127, 0, 0, 1], "HEAD", "/api/v1/coalition", &[], b"").await;
    assert_eq!(status, 200);
    assert!(body.is_empty() && !head.to_ascii_lowercase().contains("content-length: 0"), "{head}");
    assert!(head.to_ascii_lowercase().contains("access-control-allow-origin: *"), "{head}");

    // A key this node does not know as a member's is refused for good,
    // whether it signs for a member or as itself (gossip and the control
    // socket would keep it waiting): the reason names the key and the
    // trust and says what to submit first. It is not kept: once its
    // delegation is stored it is still not held until it is posted again.
    // (Posted after the reads above, which count member 1's stance alone,
    // and from another address, the first being near the end of its burst.)
    let helper = [127, 0, 0, 3];
    let outsider = member_key(99);
    let leader = f.keys[0].public();
    let delegation = f.delegation(&f.keys[0], leader, outsider.public(), None, 2_500);
    let delegated = f.stance_by(&outsider, leader, proposal.id(), Stance::Endorse, 3_000, Some(delegation.id()));
    let (status, _, body) = post_from(web, helper, delegated.bytes()).await;
    assert_eq!((status, body["error"].as_str(), body["code"].as_str()), (422, Some("refused"), Some("unknown_signer")));
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.contains(&outsider.public().to_hex()) && reason.contains(&leader.to_hex()), "{reason}");
    assert!(reason.contains("submit its delegation first"), "{reason}");
    let stranger = f.proposal_under(&outsider, outsider.public(), "Stranger", &[], None, 3_000);
    let (status, _, body) = post_from(web, helper, stranger.bytes()).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("unknown_signer")), "{body}");
    assert_eq!(post_from(web, helper, delegation.bytes()).await.0, 201);
    assert_eq!(get(web, &format!("/api/v1/objects/{}", delegated.id().to_hex())).await.0, 404, "not kept waiting");
    let (status, _, body) = post_from(web, helper, delegated.bytes()).await;
    assert_eq!(status, 201, "posted again once its delegation is held: {body}");

    // Nothing else writes.
    for (method, path, allow) in [
        ("PUT", "/api/v1/objects", "POST"),
        ("DELETE", "/api/v1/objects", "POST"),
        ("GET", "/api/v1/objects", "POST"),
        ("POST", "/api/v1/proposals", "GET, HEAD"),
        ("PATCH", "/api/v1/roster", "GET, HEAD"),
        ("POST", "/api/v2/objects", "GET, HEAD"),
        ("POST", "/", "GET, HEAD"),
        ("PUT", "/index.html", "GET, HEAD"),
        ("DELETE", "/proposals/x.html", "GET, HEAD"),
        ("OPTIONS", "/api/v1/coalition", "GET, HEAD"),
    ] {
        let headers = [("Content-Length", "0".to_string())];
        let (status, head, _) = exchange(web, [127, 0, 0, 1], method, path, &headers, b"").await;
        assert_eq!(status, 405, "{method} {path}");
        assert!(head.to_ascii_lowercase().contains(&format!("allow: {}", allow.to_ascii_lowercase())), "{head}");
    }

    // A flood from one address is limited; another address is still served.
    let mut limited = None;
    for _ in 0..20 {
        let (status, head, _) = post_from(web, [127, 0, 0, 1], b"flood").await;
        if status == 429 {
            limited = Some(head);
            break;
        }
        assert_eq!(status, 400);
    }
    let head = limited.expect("the flood was rate limited");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    let other = f.proposal(2, "From another school", 4_000, None);
    let (status, _, body) = post_from(web, [127, 0, 0, 2], other.bytes()).await;
    assert_eq!(status, 201, "a second client is served during the flood: {body}");
    assert_eq!(post(web, other.bytes()).await.0, 429, "the flooding address is still limited");

    assert_eq!(metric(metrics, "stored").await, 5);
    assert_eq!(metric(metrics, "duplicate").await, 2);
    assert!(metric(metrics, "malformed").await >= 2);
    assert_eq!(metric(metrics, "too_large").await, 2);
    assert_eq!(metric(metrics, "refused").await, 3);
    assert_eq!(metric(metrics, "rate_limited").await, 2);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_publishing_positions_serves_only_positions_and_still_takes_objects() {
    let Running { node, web, metrics: _, fixture: f, _dir } = start("positions").await;
    let open = f.proposal(0, "Still open", 1_000, None);
    assert_eq!(post(web, open.bytes()).await.0, 201, "the write path does not depend on the setting");
    let (_, list) = get(web, "/api/v1/proposals").await;
    assert_eq!(list["publish"], "positions");
    assert!(list["proposals"].as_array().unwrap().is_empty(), "{list}");
    assert_eq!(get(web, &format!("/api/v1/proposals/{}", open.id().to_hex())).await.0, 404);
    assert_eq!(get(web, &format!("/api/v1/objects/{}", open.id().to_hex())).await.0, 404);
    assert_eq!(get(web, &format!("/api/v1/objects/{}", f.id().to_hex())).await.0, 200);
    // Two of three endorse: adopted, so shown with its stances.
    for (i, member) in [0, 1].into_iter().enumerate() {
        let s = f.endorsement(member, open.id(), Stance::Endorse, 2_000 + i as u64);
        assert_eq!(post(web, s.bytes()).await.0, 201);
    }
    let (status, p) = get(web, &format!("/api/v1/proposals/{}", open.id().to_hex())).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["node_view"]["status"], "adopted");
    assert_eq!(p["stances"].as_array().unwrap().len(), 2);
    let stance_id = p["stances"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(get(web, &format!("/api/v1/objects/{stance_id}")).await.0, 200);

    // One signer from many addresses is limited by its own bucket (member
    // 0 signed two objects so far; the burst is twelve).
    let mut limited = None;
    for last in 2..=20u8 {
        let (status, _, body) = post_from(web, [127, 0, 0, last], open.bytes()).await;
        if status == 429 {
            limited = Some((last, body));
            break;
        }
        assert_eq!(status, 200, "{body}");
    }
    let (last, body) = limited.expect("the signer was rate limited");
    assert_eq!(last, 12, "after the burst less what it had used");
    assert!(body["message"].as_str().unwrap().contains("signer"), "{body}");
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_envelopes_naming_a_key_do_not_use_up_its_bucket() {
    let Running { node, web, metrics, fixture: f, _dir } = start("everything").await;
    // Twice the signer's burst of forgeries naming member 0's key, each
    // from its own address: every one is refused for its signature, none
    // for the signer's rate.
    for i in 0..24u8 {
        let mut forged = f.proposal(0, &format!("Forged {i}"), 1_000 + u64::from(i), None).bytes().to_vec();
        *forged.last_mut().unwrap() ^= 1; // the last byte is the signature's
        let (status, _, body) = post_from(web, [127, 0, 1, i + 1], &forged).await;
        assert_eq!((status, body["code"].as_str()), (422, Some("bad_signature")), "forgery {i}: {body}");
    }
    let genuine = f.proposal(0, "Genuine", 2_000, None);
    let (status, body) = post(web, genuine.bytes()).await;
    assert_eq!(status, 201, "member 0's own bucket is still full: {body}");
    assert_eq!(metric(metrics, "refused").await, 24);
    assert_eq!(metric(metrics, "rate_limited").await, 0);
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_clients_together_are_limited_by_the_node_wide_bucket() {
    // Two at once per address, ten (five times that) from everyone.
    let Running { node, web, metrics, fixture: f, _dir } = start_with("everything", |c| {
        c.api_submit_burst = 2;
    })
    .await;
    for last in 1..=10u8 {
        let (status, _, body) = post_from(web, [127, 0, 2, last], b"garbage").await;
        assert_eq!(status, 400, "client {last}: {body}");
    }
    // An eleventh address, never seen before, with a valid object.
    let proposal = f.proposal(0, "Eleventh", 1_000, None);
    let (status, head, body) = post_from(web, [127, 0, 2, 11], proposal.bytes()).await;
    assert_eq!(status, 429, "{body}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    assert!(body["message"].as_str().unwrap().contains("this node"), "{body}");
    assert_eq!(metric(metrics, "rate_limited").await, 1);
    assert_eq!(metric(metrics, "stored").await, 0);
    node.shutdown().await.unwrap();
}

fn encode_b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_is_answered_408() {
    let Running { node, web, metrics, fixture: _, _dir } = start("everything").await;
    let headers = [("Content-Type", "application/octet-stream".to_string()), ("Content-Length", "100".to_string())];
    let started = std::time::Instant::now();
    let (status, _, _) = exchange(web, [127, 0, 0, 1], "POST", "/api/v1/objects", &headers, &[1u8; 10]).await;
    assert_eq!(status, 408);
    let waited = started.elapsed();
    assert!(waited >= chorus_node::api::write::BODY_TIMEOUT && waited < Duration::from_secs(19), "{waited:?}");
    assert_eq!(metric(metrics, "malformed").await, 1);
    node.shutdown().await.unwrap();
}

/// A coalition whose members declare regions and schools, with a breadth
/// rule on positions: the API's and the control interface's view of a
/// proposal carry its tally by attribute and whether the rule is met, and
/// the list carries the breadth in short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_view_carries_its_tally_by_attribute() {
    let mut charter = Charter::default();
    charter.attributes.regions = vec!["East".into(), "North".into(), "West".into()];
    charter.breadth.positions = vec![BreadthRule { attribute: Attribute::Region, min_distinct: 2, each_of: vec![] }];
    let regions = ["East", "East", "West", "North"];
    let f = Fixture::with_charter(4, charter, |i| MemberAttributes {
        region: Some(regions[i].into()),
        schools: Some(10 * (i as u32 + 1)),
        pupils: (i != 1).then_some(1_500),
        ..MemberAttributes::default()
    });
    let Running { node, web, metrics: _, fixture: f, _dir } = start_on(f, "everything", |_| {}).await;
    // The roster carries each member's declared attributes and the charter's sets and rules.
    let (status, roster) = get(web, "/api/v1/roster").await;
    assert_eq!(status, 200, "{roster}");
    assert_eq!(roster["sets"]["regions"], serde_json::json!(["East", "North", "West"]));
    assert_eq!(roster["sets"]["positions_breadth"][0]["attribute"], "region");
    assert_eq!(roster["sets"]["positions_breadth"][0]["min_distinct"], 2);
    let declared: Vec<&str> =
        roster["members"].as_array().unwrap().iter().filter_map(|m| m["attributes"]["region"].as_str()).collect();
    assert_eq!(declared.len(), 4, "{roster}");
    assert!(roster["members"].as_array().unwrap().iter().all(|m| m["attributes"]["phase"].is_null()));
    let p = f.proposal(0, "Regional transport", 1_000, None);
    assert_eq!(post(web, p.bytes()).await.0, 201);
    for (member, stance) in [(0, Stance::Endorse), (1, Stance::Endorse), (2, Stance::Object)] {
        assert_eq!(post(web, f.endorsement(member, p.id(), stance, 2_000 + member as u64).bytes()).await.0, 201);
    }
    let path = format!("/api/v1/proposals/{}", p.id().to_hex());
    let (status, view) = get(web, &path).await;
    assert_eq!(status, 200, "{view}");
    let b = &view["node_view"]["breakdown"];
    assert_eq!(view["node_view"]["status"], "open", "two East endorsers: one region of the two needed");
    let region: Vec<(Value, u64, u64, u64)> = b["region"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["value"].clone(),
                r["endorse"].as_u64().unwrap(),
                r["object"].as_u64().unwrap(),
                r["silent"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        region,
        [
            (Value::from("East"), 2, 0, 0),
            (Value::from("North"), 0, 0, 1),
            (Value::from("West"), 0, 1, 0),
            (Value::Null, 0, 0, 0)
        ]
    );
    assert_eq!((b["endorser_schools"].as_u64(), b["endorsers_declaring_pupils"].as_u64()), (Some(30), Some(1)));
    assert_eq!(b["rule"], "positions");
    assert_eq!(b["breadth"][0]["rule"]["attribute"], "region");
    assert_eq!((b["breadth"][0]["distinct"].as_u64(), b["breadth"][0]["met"].as_bool()), (Some(1), Some(false)));

    // North endorses: three of four, two regions, adopted.
    assert_eq!(post(web, f.endorsement(3, p.id(), Stance::Endorse, 2_010).bytes()).await.0, 201);
    let (_, view) = get(web, &path).await;
    assert_eq!(view["node_view"]["status"], "adopted", "{view}");
    let b = &view["node_view"]["breakdown"];
    assert_eq!((b["breadth"][0]["distinct"].as_u64(), b["breadth"][0]["met"].as_bool()), (Some(2), Some(true)));

    // The control interface carries the same breakdown, and the list its
    // short form.
    let client = Client::new(node.socket_path());
    let id = p.id().to_hex();
    let (detail, list) = tokio::task::spawn_blocking(move || {
        let detail: ProposalDetail = client.call(&Request::Show { id, comments: true }).unwrap();
        let list: Vec<ProposalSummary> = client.call(&Request::Proposals).unwrap();
        (detail, list)
    })
    .await
    .unwrap();
    assert_eq!(serde_json::to_value(detail.breakdown.unwrap()).unwrap(), *b);
    let brief = list[0].breadth.clone().expect("a coalition with breadth rules lists them");
    assert_eq!(brief.line(), "breadth 1/1 met, 2/3 regions");
    node.shutdown().await.unwrap();
}
