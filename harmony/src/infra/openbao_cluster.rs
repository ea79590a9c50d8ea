//! Setup of an OpenBao raft cluster through the HTTP API of every node (a port-forward per pod
//! in `harmony::modules::openbao::OpenbaoSetupScore`, plain addresses in tests).
//!
//! [`OpenbaoCluster::run`]: initialise one node when none is, unseal every node (a node that
//! joins through `retry_join` is unsealed with the same keys; an auto-unsealed node is only
//! waited for), wait until `sys/storage/raft/configuration` lists every node as a voter, then
//! configure auth/KV/policies once, through the active node. Like [`OpenbaoSetup::run`] every
//! step reads first, so a rerun on a healthy cluster sends no write.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harmony_secret::openbao_http::errors_of;
use reqwest::Method;
use serde_json::{Value, json};

use crate::infra::openbao_admin::{
    OpenbaoDesiredState, OpenbaoInitRecord, OpenbaoKeyStore, OpenbaoSetup, OpenbaoSetupError,
    SealStatus, seal_migration_refused,
};

/// A raft member as `sys/storage/raft/configuration` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftMember {
    /// The node's raft id, e.g. `openbao-0`.
    pub node_id: String,
    /// Cluster address (`host:8201`).
    pub address: String,
    /// Whether the node votes (a node that just joined is a non-voter for a while).
    pub voter: bool,
    /// Whether the node is the current raft leader (the active node).
    pub leader: bool,
}

/// What one run of [`OpenbaoCluster::run`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterReport {
    /// Every write request sent, as "METHOD path" (no values). Empty = nothing changed.
    pub writes: Vec<String>,
    /// The node `sys/init` was sent to in this run.
    pub initialized: Option<String>,
    /// The nodes this run unsealed with keys.
    pub unsealed: Vec<String>,
    /// The raft members once every node is a voter.
    pub members: Vec<RaftMember>,
    /// The node the configuration went through.
    pub active: String,
}

impl ClusterReport {
    /// True when this run sent at least one write.
    pub fn changed(&self) -> bool {
        !self.writes.is_empty()
    }
}

/// Talks to every node of one raft cluster.
pub struct OpenbaoCluster {
    nodes: Vec<OpenbaoSetup>,
    store: Arc<dyn OpenbaoKeyStore>,
    ready_timeout: Duration,
}

impl std::fmt::Debug for OpenbaoCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenbaoCluster")
            .field("nodes", &self.nodes)
            .field("store", &self.store.describe())
            .field("ready_timeout", &self.ready_timeout)
            .finish()
    }
}

impl OpenbaoCluster {
    /// `node_urls` are the API addresses of every node; the first is initialised when none is.
    pub fn new(
        node_urls: Vec<String>,
        store: Arc<dyn OpenbaoKeyStore>,
    ) -> Result<Self, OpenbaoSetupError> {
        if node_urls.is_empty() {
            return Err(OpenbaoSetupError::Settings(
                "an OpenBao cluster needs at least one node address".into(),
            ));
        }
        let nodes = node_urls
            .into_iter()
            .map(|url| OpenbaoSetup::new(url, store.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            nodes,
            store,
            ready_timeout: Duration::from_secs(120),
        })
    }

    /// How long to wait for a node to answer, join, unseal, and for every node to be a voter
    /// (default 120 s; autopilot promotes a new node after ~10 s of stability).
    pub fn with_ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self.nodes = self
            .nodes
            .into_iter()
            .map(|n| n.with_ready_timeout(timeout))
            .collect();
        self
    }

    /// Makes `desired` true on the cluster and reports the writes it needed.
    pub async fn run(
        &self,
        desired: &OpenbaoDesiredState,
    ) -> Result<ClusterReport, OpenbaoSetupError> {
        desired.validate()?;
        for node in &self.nodes {
            node.take_writes();
        }
        let mut report = ClusterReport::default();
        let mut statuses = Vec::new();
        for node in &self.nodes {
            statuses.push(node.seal_status().await?);
        }
        let stored = self
            .store
            .load()
            .await
            .map_err(|source| OpenbaoSetupError::Store {
                store: self.store.describe(),
                source: Box::new(source),
            })?;
        let record = match (statuses.iter().any(|s| s.initialized), stored) {
            (false, stored) => {
                if stored.is_some() {
                    log::warn!(
                        "no OpenBao node is initialised but {} holds keys from an earlier cluster; they are replaced",
                        self.store.describe()
                    );
                }
                let first = &self.nodes[0];
                let record = first.init(desired, statuses[0].recovery_seal).await?;
                report.initialized = Some(first.base_url().to_string());
                record
            }
            (true, Some(record)) => record,
            (true, None) => {
                return Err(OpenbaoSetupError::State(format!(
                    "the OpenBao cluster is initialised, but its keys and root token are not in {}. \
                     Restore them there, or reset every node's data (delete the PVCs) to initialise it again.",
                    self.store.describe()
                )));
            }
        };

        // Initialised nodes first: the others join through them.
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        order
            .sort_by_key(|&i| !(statuses[i].initialized || report.initialized.is_some() && i == 0));
        for i in order {
            if self.unseal_node(&self.nodes[i], &record).await? {
                report.unsealed.push(self.nodes[i].base_url().to_string());
            }
        }

        let (active, members) = self.wait_for_voters(&record.root_token).await?;
        report.members = members;
        report.active = self.nodes[active].base_url().to_string();
        let mut record = record;
        self.nodes[active].configure(desired, &mut record).await?;
        for node in &self.nodes {
            report.writes.extend(node.take_writes());
        }
        Ok(report)
    }

    /// Brings one node to unsealed; true when it needed keys from this run.
    async fn unseal_node(
        &self,
        node: &OpenbaoSetup,
        record: &OpenbaoInitRecord,
    ) -> Result<bool, OpenbaoSetupError> {
        use backon::{ConstantBuilder, Retryable};
        let deadline = Instant::now() + self.ready_timeout;
        // Kept between attempts: when the keys were last sent, the last refusal, the last status.
        let sent_at: Mutex<Option<Instant>> = Mutex::new(None);
        let last_error = Mutex::new(String::new());
        let last_status: Mutex<Option<SealStatus>> = Mutex::new(None);
        // `Err(None)`: still sealed (retried until the deadline); `Err(Some)`: failed.
        let attempt = || async {
            let last = node.seal_status().await.map_err(Some)?;
            if last.migration {
                return Err(Some(seal_migration_refused(
                    node.base_url(),
                    &last.seal_type,
                )));
            }
            if !last.sealed {
                return Ok(());
            }
            // A joining node reports `initialized` once it got the leader's challenge; the
            // keys answer it. An auto-unsealed node needs nothing from us.
            let resend = sent_at
                .lock()
                .expect("sent_at lock")
                .is_none_or(|t| t.elapsed() > Duration::from_secs(5));
            let send_keys = last.initialized && !last.recovery_seal && resend;
            *last_status.lock().expect("status lock") = Some(last);
            if send_keys {
                *sent_at.lock().expect("sent_at lock") = Some(Instant::now());
                for key in &record.unseal_keys {
                    let (status, value) = node
                        .send(
                            Method::PUT,
                            "sys/unseal",
                            None,
                            Some(&json!({ "key": key })),
                        )
                        .await
                        .map_err(Some)?;
                    if status != 200 {
                        *last_error.lock().expect("error lock") = format!(
                            "PUT sys/unseal: HTTP {status}: {}",
                            errors_of(&value).unwrap_or_default()
                        );
                        break;
                    }
                    if value.get("sealed").and_then(Value::as_bool) == Some(false) {
                        break;
                    }
                }
            }
            Err(None)
        };
        let unsealed = attempt
            .retry(
                ConstantBuilder::new()
                    .with_delay(Duration::from_millis(200))
                    .without_max_times(),
            )
            .when(|e| e.is_none() && Instant::now() < deadline)
            .await;
        if let Err(failed) = unsealed {
            if let Some(e) = failed {
                return Err(e);
            }
            let last = last_status
                .into_inner()
                .expect("status lock")
                .expect("a sealed status was seen");
            let last_error = last_error.into_inner().expect("error lock");
            let why = if last.recovery_seal {
                format!(
                    "it uses a {} seal: check that its unsealer is up and its token valid",
                    last.seal_type
                )
            } else if !last.initialized {
                "it never joined: check its retry_join addresses and that the other nodes \
                 reach its cluster port"
                    .to_string()
            } else if record.unseal_keys.is_empty() {
                format!(
                    "{} holds no unseal keys (a transit-sealed cluster's keys?)",
                    self.store.describe()
                )
            } else {
                format!(
                    "the keys in {} did not unseal it{}",
                    self.store.describe(),
                    if last_error.is_empty() {
                        String::new()
                    } else {
                        format!(" ({last_error})")
                    }
                )
            };
            return Err(OpenbaoSetupError::State(format!(
                "OpenBao node {} is still sealed after {}s: {why}",
                node.base_url(),
                self.ready_timeout.as_secs()
            )));
        }
        Ok(sent_at.into_inner().expect("sent_at lock").is_some())
    }

    /// Polls until one node is active and the raft configuration lists every node as a voter;
    /// returns the active node's index and the members.
    async fn wait_for_voters(
        &self,
        token: &str,
    ) -> Result<(usize, Vec<RaftMember>), OpenbaoSetupError> {
        use backon::{ConstantBuilder, Retryable};
        let deadline = Instant::now() + self.ready_timeout;
        // The members the last answering node listed, for the message on expiry.
        let seen: Mutex<Vec<RaftMember>> = Mutex::new(Vec::new());
        let attempt = || async {
            for (i, node) in self.nodes.iter().enumerate() {
                let Ok((200, _)) = node.send(Method::GET, "sys/health", None, None).await else {
                    continue;
                };
                let Ok(Some(config)) = node
                    .call(Method::GET, "sys/storage/raft/configuration", token, None)
                    .await
                else {
                    continue;
                };
                let listed = members(&config);
                if listed.len() >= self.nodes.len()
                    && listed.iter().filter(|m| m.voter).count() >= self.nodes.len()
                {
                    return Ok((i, listed));
                }
                *seen.lock().expect("seen lock") = listed;
            }
            Err(())
        };
        attempt
            .retry(
                ConstantBuilder::new()
                    .with_delay(Duration::from_millis(250))
                    .without_max_times(),
            )
            .when(|_| Instant::now() < deadline)
            .await
            .map_err(|()| {
                let listed = seen
                    .lock()
                    .expect("seen lock")
                    .iter()
                    .map(|m| {
                        format!(
                            "{} ({})",
                            m.node_id,
                            if m.voter { "voter" } else { "non-voter" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                OpenbaoSetupError::Timeout {
                    what: format!(
                        "all {} OpenBao nodes to be raft voters (last seen: {})",
                        self.nodes.len(),
                        if listed.is_empty() {
                            "no active node".to_string()
                        } else {
                            listed
                        }
                    ),
                    seconds: self.ready_timeout.as_secs(),
                }
            })
    }
}

/// The members in a `sys/storage/raft/configuration` answer.
pub fn members(config: &Value) -> Vec<RaftMember> {
    config["data"]["config"]["servers"]
        .as_array()
        .map(|servers| {
            servers
                .iter()
                .map(|s| RaftMember {
                    node_id: s["node_id"].as_str().unwrap_or_default().to_string(),
                    address: s["address"].as_str().unwrap_or_default().to_string(),
                    voter: s["voter"].as_bool().unwrap_or(false),
                    leader: s["leader"].as_bool().unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_read_from_the_raft_configuration() {
        let answer = json!({"data": {"config": {"servers": [
            {"node_id": "openbao-0", "address": "openbao-0.openbao-internal:8201", "leader": true, "voter": true},
            {"node_id": "openbao-1", "address": "openbao-1.openbao-internal:8201", "leader": false, "voter": false},
        ]}}});
        let m = members(&answer);
        assert_eq!(m.len(), 2);
        assert!(m[0].leader && m[0].voter);
        assert_eq!(m[1].node_id, "openbao-1");
        assert!(!m[1].voter);
        assert!(members(&json!({})).is_empty());
    }
}
