//! [`OpenbaoTransitSealScore`]: the transit seal token Secret an OpenBao with
//! [`super::OpenbaoScore::transit_seal`] needs before its pods can start (they read the token
//! from it). Run it before `OpenbaoScore`; `OpenbaoSetupScore` keeps the token valid afterwards.

use async_trait::async_trait;
use serde::Serialize;

use super::setup_score::{OpenbaoSetupScore, OpenbaoTransitUnseal, OpenbaoUnsealMode};
use crate::interpret::{Interpret, InterpretError, Outcome};
use crate::inventory::Inventory;
use crate::score::Score;
use crate::topology::{K8sclient, Topology};

/// Creates the namespace when missing and makes the Secret `<fullname>-transit-seal` hold a
/// valid seal token (with admin access to the unsealer: transit mount, key, policy, token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenbaoTransitSealScore {
    /// Namespace of the OpenBao that will use the transit seal.
    pub namespace: String,
    /// Its Helm release name (the Secret is named after the chart's fullname).
    pub release_name: String,
    /// The transit seal settings and the admin access to the unsealer.
    pub transit: OpenbaoTransitUnseal,
    /// Scopes the local key cache of the unsealer, like [`OpenbaoSetupScore::cluster_name`].
    pub cluster_name: String,
}

impl OpenbaoTransitSealScore {
    fn as_setup(&self) -> OpenbaoSetupScore {
        OpenbaoSetupScore {
            namespace: self.namespace.clone(),
            release_name: self.release_name.clone(),
            cluster_name: self.cluster_name.clone(),
            unseal: OpenbaoUnsealMode::Transit(self.transit.clone()),
            ..Default::default()
        }
    }
}

impl<T: Topology + K8sclient> Score<T> for OpenbaoTransitSealScore {
    fn name(&self) -> String {
        format!(
            "OpenbaoTransitSealScore({}/{})",
            self.namespace, self.release_name
        )
    }

    fn create_interpret(&self) -> Box<dyn Interpret<T>> {
        Box::new(OpenbaoTransitSealInterpret {
            score: self.clone(),
        })
    }
}

#[derive(Debug)]
struct OpenbaoTransitSealInterpret {
    score: OpenbaoTransitSealScore,
}

#[async_trait]
impl<T: Topology + K8sclient> Interpret<T> for OpenbaoTransitSealInterpret {
    async fn execute(
        &self,
        _inventory: &Inventory,
        topology: &T,
    ) -> Result<Outcome, InterpretError> {
        let score = &self.score;
        let client = topology.k8s_client().await?;
        let ns = score.namespace.as_str();
        let mut changed = Vec::new();
        if client.ensure_namespace(ns).await? {
            changed.push(format!("namespace {ns}"));
        }
        changed.extend(
            super::setup_score::ensure_transit_token(&client, &score.as_setup(), &score.transit)
                .await?,
        );
        let secret = super::transit_token_secret_name(&score.as_setup().fullname());
        let outcome = if changed.is_empty() {
            Outcome::noop(format!("transit seal token Secret {ns}/{secret} is valid"))
        } else {
            Outcome::success(format!(
                "transit seal token Secret {ns}/{secret} ready ({} changes)",
                changed.len()
            ))
        };
        Ok(outcome.with_detail("changes", changed.join(", ")))
    }
}
