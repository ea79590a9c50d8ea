//! A read through `StoreSource<OpenbaoSecretStore>` (session already established) against a local
//! REAL OpenBao, next to the floor: one raw reqwest GET of the same secret.
//!
//! `cargo bench -p harmony_config --bench openbao_read -- --warm-up-time 1 --measurement-time 3`

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use harmony_config::{ConfigSource, StoreSource};
use harmony_secret::{OpenbaoSecretStore, SecretStore};
use harmony_test_support::OpenBao;
use serde_json::json;

fn openbao_read(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (bao, init) = rt.block_on(OpenBao::start_ready());
    let store = rt.block_on(async {
        OpenbaoSecretStore::builder()
            .url(bao.addr())
            .token(&init.root_token)
            .build()
            .await
            .unwrap()
    });
    let value = json!({"host": "db.team", "port": 5432, "password": "bench"});
    rt.block_on(store.set_json("harmony", "BenchConfig", &value))
        .unwrap();
    let source = Arc::new(StoreSource::new("harmony", store));
    // Establish the session (and the connection) before measuring.
    assert_eq!(
        rt.block_on(source.get("BenchConfig")).unwrap(),
        Some(value.clone())
    );

    let http = reqwest::Client::new();
    let url = format!("{}/v1/secret/data/harmony/BenchConfig", bao.addr());
    let token = init.root_token.clone();

    let mut group = c.benchmark_group("openbao_read");
    group.bench_function("store_source_get", |b| {
        b.to_async(&rt).iter(|| {
            let source = source.clone();
            async move { source.get("BenchConfig").await.unwrap().unwrap() }
        })
    });
    group.bench_function("raw_reqwest_get", |b| {
        b.to_async(&rt).iter(|| {
            let http = http.clone();
            let url = url.clone();
            let token = token.clone();
            async move {
                let v: serde_json::Value = http
                    .get(&url)
                    .header("X-Vault-Token", token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                v
            }
        })
    });
    group.finish();
    drop(bao);
}

criterion_group!(benches, openbao_read);
criterion_main!(benches);
