//! The node's view of the network layer. Until chorus-net is wired in, this
//! is a node with no peers.

use crate::control::PeerInfo;
use crate::error::Result;

/// A running network endpoint.
pub struct Network {
    peer_id: String,
}

impl Network {
    /// Starts nothing yet.
    pub async fn start(
        _data_dir: &crate::datadir::DataDir,
        _config: &crate::config::Config,
        _trust: &chorus_core::Keypair,
        _coalition: &chorus_core::Coalition,
        _store: std::sync::Arc<chorus_store::Store>,
        _metrics: std::sync::Arc<crate::metrics::Metrics>,
    ) -> Result<Self> {
        Ok(Network { peer_id: String::from("-") })
    }
    /// This node's peer id.
    pub fn peer_id(&self) -> String {
        self.peer_id.clone()
    }
    /// Listen addresses.
    pub async fn listen_addrs(&self) -> Vec<String> {
        vec![]
    }
    /// Publishes an object that was just stored.
    pub async fn publish(&self, _bytes: Vec<u8>) {}
    /// Connected peers.
    pub async fn peers(&self) -> Vec<PeerInfo> {
        vec![]
    }
    /// Dials a peer.
    pub async fn dial(&self, _addr: &str) -> Result<()> {
        Ok(())
    }
    /// Last completed sync round.
    pub fn last_sync_ms(&self) -> Option<u64> {
        None
    }
    /// Stops the network.
    pub async fn shutdown(self) {}
}
