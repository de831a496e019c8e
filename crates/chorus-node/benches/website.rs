//! The node's website under load, on loopback: a coalition of 3,000 member
//! trusts and 10,000 proposals, one of them endorsed by all 3,000.
//!
//! Prints, measured in the same run (the machine is shared and noisy):
//! - the first (uncached) render of the index and of the 3,000-stance
//!   proposal page through the server, beside the bare render of the same
//!   pages by `chorus_web::Site::get`;
//! - requests per second for the index under 64 concurrent keep-alive
//!   connections, beside the same load on the site's stylesheet (the
//!   server's own overhead: a small cached file).
//!
//! `cargo bench -p chorus-node --bench website`

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chorus_core::testkit::Fixture;
use chorus_core::{Envelope, ObjectId, Stance};
use chorus_node::web::{serve, WebOptions};
use chorus_store::{Store, StoreConfig};
use chorus_web::{ObjectSource, Publish, Site, SiteConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MEMBERS: u32 = 3_000;
const PROPOSALS: usize = 10_000;
const CONNECTIONS: usize = 64;
const LOAD: Duration = Duration::from_secs(5);

struct Objects<'a>(&'a Store);

impl ObjectSource for Objects<'_> {
    fn envelope(&self, id: &ObjectId) -> Option<Envelope> {
        Envelope::decode(&self.0.get(id).ok()??).ok()
    }
}

fn build(dir: &std::path::Path) -> (Arc<Store>, ObjectId) {
    let t = Instant::now();
    let f = Fixture::new(MEMBERS);
    let config = StoreConfig { fsync: false, ..StoreConfig::default() };
    let store = Store::create(dir, f.coalition.genesis_envelope().bytes(), config).expect("store");
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut big = None;
    for i in 0..PROPOSALS {
        let p = f.proposal(i % MEMBERS as usize, &format!("Proposal number {i} on school funding"), i as u64, None);
        if i == PROPOSALS - 1 {
            big = Some(p.id());
        }
        batch.push(p.bytes().to_vec());
        if batch.len() == 2_000 {
            store.ingest(&batch, u64::MAX).expect("ingest");
            batch.clear();
        }
    }
    let big = big.expect("at least one proposal");
    for m in 0..MEMBERS as usize {
        let stance = if m % 10 == 0 { Stance::Object } else { Stance::Endorse };
        batch.push(f.endorsement(m, big, stance, PROPOSALS as u64 + m as u64).bytes().to_vec());
        if batch.len() == 2_000 {
            store.ingest(&batch, u64::MAX).expect("ingest");
            batch.clear();
        }
    }
    store.ingest(&batch, u64::MAX).expect("ingest");
    eprintln!("built {} objects in {:.1} s", store.object_count(), t.elapsed().as_secs_f64());
    (Arc::new(store), big)
}

/// One keep-alive GET; returns the body length.
async fn get(stream: &mut tokio::net::TcpStream, path: &str, buf: &mut Vec<u8>) -> usize {
    stream.write_all(format!("GET /{path} HTTP/1.1\r\nHost: bench\r\n\r\n").as_bytes()).await.expect("write");
    buf.clear();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("content-length");
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await.expect("read");
                assert!(n > 0, "connection closed");
                buf.extend_from_slice(&chunk[..n]);
            }
            return len;
        }
    }
}

async fn load(addr: SocketAddr, path: &'static str) -> (f64, usize) {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + LOAD;
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let mut buf = Vec::new();
            let mut size = 0;
            while Instant::now() < deadline {
                size = get(&mut s, path, &mut buf).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
            size
        }));
    }
    let mut size = 0;
    for t in tasks {
        size = t.await.expect("task");
    }
    (done.load(Ordering::Relaxed) as f64 / LOAD.as_secs_f64(), size)
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, big) = build(dir.path());
    let page = format!("proposals/{}.html", big.to_hex());

    // Bare renders.
    let ledger = store.ledger_snapshot();
    let objects = Objects(&store);
    let config = SiteConfig { publish: Publish::Everything, base_url: None };
    let site = Site::new(&ledger, &objects, &config);
    for path in ["index.html", page.as_str()] {
        let t = Instant::now();
        let a = site.get(path).expect("page");
        println!("bare render of {path}: {:.1} ms, {} bytes", t.elapsed().as_secs_f64() * 1e3, a.body.len());
    }

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        let options = WebOptions { publish: Publish::Everything, base_url: None, seal: None };
        let (_task, addr) = serve("127.0.0.1:0".parse().unwrap(), store.clone(), options, stop).await.expect("serve");
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut buf = Vec::new();
        for path in ["index.html", page.as_str()] {
            let t = Instant::now();
            let size = get(&mut s, path, &mut buf).await;
            let first = t.elapsed();
            let t = Instant::now();
            get(&mut s, path, &mut buf).await;
            println!(
                "served {path}: first (render) {:.1} ms, then (cached) {:.2} ms, {size} bytes",
                first.as_secs_f64() * 1e3,
                t.elapsed().as_secs_f64() * 1e3
            );
        }
        drop(s);
        let (base, base_size) = load(addr, "assets/style.css").await;
        println!("baseline: assets/style.css ({base_size} bytes), {CONNECTIONS} connections: {base:.0} requests/s");
        let (index, index_size) = load(addr, "index.html").await;
        println!(
            "index.html, everything published ({index_size} bytes), {CONNECTIONS} connections: {index:.0} requests/s \
             ({:.3}x the baseline), {:.0} MB/s",
            index / base,
            index * index_size as f64 / 1e6
        );
        // What a public site serves: positions only.
        let (_stop_tx2, stop2) = tokio::sync::watch::channel(false);
        let options = WebOptions { publish: Publish::Positions, base_url: None, seal: None };
        let (_task2, addr2) =
            serve("127.0.0.1:0".parse().unwrap(), store.clone(), options, stop2).await.expect("serve");
        let (index, index_size) = load(addr2, "index.html").await;
        println!(
            "index.html, positions only ({index_size} bytes), {CONNECTIONS} connections: {index:.0} requests/s \
             ({:.3}x the baseline), {:.0} MB/s",
            index / base,
            index * index_size as f64 / 1e6
        );
    });
}
