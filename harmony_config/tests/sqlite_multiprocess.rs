//! Eight OS processes write to one SQLite database at the same time: nothing is lost, nobody
//! sees "database is locked".
//!
//! The test re-runs this test binary as the writer processes, filtered to `writer_process`,
//! which does nothing unless `HC_MULTIPROCESS_DB` is set.

use std::process::{Command, Stdio};

use harmony_config::{ConfigSource, SqliteSource};
use serde_json::json;

const PROCESSES: usize = 8;
const KEYS_PER_PROCESS: usize = 50;

#[test]
fn test_sqlite_concurrent_access_from_eight_processes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared/config.db");
    let exe = std::env::current_exe().unwrap();

    let children: Vec<_> = (0..PROCESSES)
        .map(|worker| {
            Command::new(&exe)
                .args([
                    "writer_process",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("HC_MULTIPROCESS_DB", &db)
                .env("HC_MULTIPROCESS_WORKER", worker.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (worker, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "writer {worker} failed:\n{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("1 passed"),
            "writer {worker} did not run: {stdout}"
        );
        assert!(
            !stderr.contains("locked") && !stdout.contains("locked"),
            "{stdout}\n{stderr}"
        );
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let sqlite = SqliteSource::open(&db).await.unwrap();
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM config")
            .fetch_one(sqlite.pool())
            .await
            .unwrap();
        assert_eq!(count as usize, PROCESSES * KEYS_PER_PROCESS);
        for worker in 0..PROCESSES {
            for i in 0..KEYS_PER_PROCESS {
                let got = sqlite.get(&format!("w{worker}-k{i}")).await.unwrap();
                assert_eq!(got, Some(json!({ "worker": worker, "i": i })));
            }
        }
    });
}

/// One writer process (see the module docs). A no-op when run as part of the normal suite.
#[test]
fn writer_process() {
    let Some(db) = std::env::var_os("HC_MULTIPROCESS_DB") else {
        return;
    };
    let worker: usize = std::env::var("HC_MULTIPROCESS_WORKER")
        .unwrap()
        .parse()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let sqlite = SqliteSource::open(&db).await.unwrap();
        for i in 0..KEYS_PER_PROCESS {
            sqlite
                .set(
                    &format!("w{worker}-k{i}"),
                    &json!({ "worker": worker, "i": i }),
                )
                .await
                .unwrap_or_else(|e| panic!("writer {worker} key {i}: {e}"));
        }
    });
}
