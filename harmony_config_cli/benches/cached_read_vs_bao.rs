//! A whole-process read of one secret from a local REAL OpenBao, in the same run:
//! `harmony-config get KEY --reveal` (env → OpenBao → SQLite chain, token auth, so nothing to
//! log in) against the official `bao kv get -format=json` of the same secret (the `bao` binary
//! the tests install). Both are spawned as processes and waited for, output read.
//!
//! `cargo bench -p harmony_config_cli --bench cached_read_vs_bao`
//! (uses the release build of `harmony-config`, like the `bao` release binary).

use std::path::Path;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use harmony_secret::{OpenbaoSecretStore, SecretStore};
use harmony_test_support::{OpenBao, ensure_test_deps};
use serde_json::{Value, json};

fn harmony_config(home: &Path, addr: &str, token: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harmony-config"));
    cmd.args(["get", "BenchSecret", "--reveal"])
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("OPENBAO_URL", addr)
        .env("OPENBAO_TOKEN", token)
        .env_remove("BAO_ADDR")
        .env_remove("BAO_TOKEN")
        .env_remove("HARMONY_CONFIG_BenchSecret");
    cmd
}

fn bao_kv_get(bin: &Path, home: &Path, addr: &str, token: &str) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args([
        "kv",
        "get",
        "-format=json",
        "-mount=secret",
        "harmony/BenchSecret",
    ])
    .env("HOME", home)
    .env("BAO_ADDR", addr)
    .env("BAO_TOKEN", token);
    cmd
}

fn stdout_of(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn cached_read_vs_bao(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (bao, init) = rt.block_on(OpenBao::start_ready());
    let value = json!({"host": "db.team", "port": 5432, "password": "bench-pw"});
    rt.block_on(async {
        let store = OpenbaoSecretStore::builder()
            .url(bao.addr())
            .token(&init.root_token)
            .build()
            .await
            .unwrap();
        store
            .set_json("harmony", "BenchSecret", &value)
            .await
            .unwrap();
    });
    let home = tempfile::tempdir().unwrap();
    let bao_bin = ensure_test_deps().bao;
    let token = init.root_token.clone();

    // Both really read the secret from the server (and the SQLite file exists before timing).
    assert_eq!(
        stdout_of(&mut harmony_config(home.path(), bao.addr(), &token)),
        value
    );
    assert_eq!(
        stdout_of(&mut bao_kv_get(&bao_bin, home.path(), bao.addr(), &token))["data"]["data"],
        value
    );

    let mut group = c.benchmark_group("whole_process_read");
    group.bench_function("harmony-config get", |b| {
        b.iter(|| stdout_of(&mut harmony_config(home.path(), bao.addr(), &token)))
    });
    group.bench_function("bao kv get -format=json", |b| {
        b.iter(|| stdout_of(&mut bao_kv_get(&bao_bin, home.path(), bao.addr(), &token)))
    });
    group.finish();
    drop(bao);
}

criterion_group!(benches, cached_read_vs_bao);
criterion_main!(benches);
