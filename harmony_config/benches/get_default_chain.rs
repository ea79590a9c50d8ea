//! `ConfigManager::get` through the default-like chain (Env -> SQLite, value in SQLite) against
//! the floor: a bare sqlx `SELECT value FROM config WHERE key = ?` plus `serde_json::from_str`
//! of the same row, on the same pool.
//!
//! cargo bench -p harmony_config --bench get_default_chain -- --warm-up-time 1 --measurement-time 3

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use harmony_config::{Config, ConfigManager, ConfigSource, EnvSource, SqliteSource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Config)]
#[config(key = "BenchConfig")]
struct BenchConfig {
    host: String,
    port: u16,
    user: String,
    tls: bool,
}

fn get_default_chain(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = rt
        .block_on(SqliteSource::open(dir.path().join("config.db")))
        .unwrap();
    let pool = sqlite.pool().clone();
    let sqlite: Arc<dyn ConfigSource> = Arc::new(sqlite);
    let manager = ConfigManager::new(vec![Arc::new(EnvSource), sqlite]);
    let value = BenchConfig {
        host: "db.example.com".into(),
        port: 5432,
        user: "harmony".into(),
        tls: true,
    };
    rt.block_on(manager.set(&value)).unwrap();
    assert_eq!(rt.block_on(manager.get::<BenchConfig>()).unwrap(), value);

    let mut group = c.benchmark_group("get_default_chain");
    group.bench_function("manager_get_env_then_sqlite", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(manager.get::<BenchConfig>().await.unwrap()) })
    });
    group.bench_function("floor_sqlx_select_and_from_str", |b| {
        b.to_async(&rt).iter(|| async {
            let (text,): (String,) = sqlx::query_as("SELECT value FROM config WHERE key = ?")
                .bind(BenchConfig::KEY)
                .fetch_one(&pool)
                .await
                .unwrap();
            black_box(serde_json::from_str::<BenchConfig>(&text).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, get_default_chain);
criterion_main!(benches);
