//! Tests of the PostgreSQL store on a throwaway cluster: the shared conformance suite
//! (`scimd_store::testsuite`, exactly what SQLite runs), multi-node behaviour with two
//! stores (two pools, as two scimd nodes) on one database, query plans, migrations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use scimd_core::schema::Registry;
use scimd_store::testsuite::Fixture;

use crate::PostgresStore;
use crate::test_cluster::Cluster;

/// A store on a fresh database of the shared test cluster.
pub(crate) struct PgDb {
    pub store: PostgresStore,
    pub url: String,
    // Keeps the cluster running for the test's duration.
    pub cluster: Arc<Cluster>,
}

impl Fixture for PgDb {
    type Store = PostgresStore;
    fn store(&self) -> &PostgresStore {
        &self.store
    }
}

async fn open_with(registry: Arc<Registry>) -> Option<PgDb> {
    let cluster = Cluster::shared()?;
    let url = cluster.create_database().await;
    let store = PostgresStore::connect(&url, registry).await.unwrap();
    Some(PgDb {
        store,
        url,
        cluster,
    })
}

pub(crate) async fn open() -> Option<PgDb> {
    open_with(Arc::new(Registry::builtin())).await
}

scimd_store::conformance_tests!(open_with);
