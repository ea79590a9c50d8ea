//! PostgreSQL: the [`PostgreSQLScore`] and the CloudNativePG implementation of the
//! [`crate::topology::PostgreSQL`] capability.

pub mod cnpg;
pub mod cnpg_plan;

use async_trait::async_trait;
use serde::Serialize;

use crate::interpret::{Interpret, InterpretError, Outcome};
use crate::inventory::Inventory;
use crate::plan::Plan;
use crate::score::Score;
use crate::topology::{PostgreSQL, PostgreSQLConfig, Topology};

/// A PostgreSQL database, on whatever the topology uses to provide one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostgreSQLScore {
    /// The database wanted.
    pub config: PostgreSQLConfig,
}

impl PostgreSQLScore {
    /// A Score for `config`.
    pub fn new(config: PostgreSQLConfig) -> Self {
        Self { config }
    }
}

impl<T: Topology + PostgreSQL> Score<T> for PostgreSQLScore {
    fn name(&self) -> String {
        format!(
            "PostgreSQLScore[{}/{}]",
            self.config.namespace, self.config.name
        )
    }

    fn create_interpret(&self) -> Box<dyn Interpret<T>> {
        Box::new(self.clone())
    }
}

#[async_trait]
impl<T: Topology + PostgreSQL> Interpret<T> for PostgreSQLScore {
    async fn plan(&self, _inventory: &Inventory, topology: &T) -> Result<Plan, InterpretError> {
        let (changes, _) = topology.plan_postgres(&self.config).await?;
        Ok(Plan::new(changes))
    }

    async fn execute(
        &self,
        _inventory: &Inventory,
        topology: &T,
    ) -> Result<Outcome, InterpretError> {
        let endpoint = topology.deploy_postgres(&self.config).await?;
        let what = format!("PostgreSQL {}/{}", self.config.namespace, self.config.name);
        let outcome = if endpoint.changed {
            Outcome::success(format!("{what} deployed and ready"))
        } else {
            Outcome::noop(format!("{what} already ready"))
        };
        Ok(outcome
            .with_detail("host", endpoint.host)
            .with_detail("port", endpoint.port.to_string())
            .with_detail("database", endpoint.database)
            .with_detail("app secret", endpoint.app_secret)
            .with_detail("superuser secret", endpoint.superuser_secret))
    }
}
