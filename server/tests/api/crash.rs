//! What a crash of the server process can lose: nothing it already answered.

use crate::helpers::{free_port, fresh_database_url};
use sea_orm::{Database, EntityTrait, PaginatorTrait};
use std::{
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

const LAB: &str = r#"
[[users]]
username = "crash1"
password = "crash-password-1"

[[users]]
username = "crash2"
password = "crash-password-1"

[[users]]
username = "crash3"
password = "crash-password-1"

[[users]]
username = "crash4"
password = "crash-password-1"

[[organizations]]
name = "Lab"
members = [
    { user = "crash1", role = "member" },
    { user = "crash2", role = "member" },
    { user = "crash3", role = "member" },
    { user = "crash4", role = "member" },
]

[[organizations.images]]
title = "Debian"
type = "kernel_initrd"
kernel = "http://10.0.2.2:9/linux"
image = "http://10.0.2.2:9/initrd.gz"
args = ["console=ttyS0"]

[[organizations.menus]]
title = "Main"
entries = [{ image = "Debian", default = true }]

[[organizations.groups]]
name = "Students"
menu = "Main"
members = ["crash1", "crash2", "crash3", "crash4"]
"#;

/// Signs `username` in over iPXE and returns the URL of the menu's boot choice.
async fn boot_url(client: &reqwest::Client, base: &str, username: &str) -> String {
    let menu = client
        .get(format!(
            "{base}/ipxe/session?mac=52-54-00-00-00-01&platform=pcbios&arch=x86_64&username={}&password={}",
            hex::encode(username),
            hex::encode("crash-password-1")
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = menu
        .find("/ipxe/s/")
        .unwrap_or_else(|| panic!("no session in {menu}"));
    let path: String = menu[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
        .collect();
    assert!(path.contains("/boot/"), "{path} in {menu}");
    format!("{base}{path}")
}

/// Machines booting while the server is killed (`SIGKILL`, no shutdown of any kind): every
/// boot script a machine received has its row in the boot log after the restart. A row is
/// committed before its script is sent (`boot_log::Writer`), so a crash can lose only rows
/// of scripts that were never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_boot_log_row_of_a_script_it_sent() {
    let (url, _dir) = fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let lab = data.path().join("lab.toml");
    std::fs::write(&lab, LAB).unwrap();
    let imported = crate::cli::pxecloud()
        .args(["--database-url", &url])
        .arg("--data-dir")
        .arg(data.path().join("data"))
        .arg("import")
        .arg(&lab)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let port = free_port();
    let mut child = crate::cli::pxecloud()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", &url])
        .arg("--data-dir")
        .arg(data.path().join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let up = crate::cli::until_healthy(&client, &base).await;
    assert!(up, "the server did not start");

    // Four machines, each booting as fast as it can (under the 60 steps a minute a
    // session may take), counting the scripts it received whole.
    let received = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut machines = Vec::new();
    for n in 1..=4 {
        let url = boot_url(&client, &base, &format!("crash{n}")).await;
        let (client, received, stop) = (client.clone(), received.clone(), stop.clone());
        machines.push(tokio::spawn(async move {
            for _ in 0..55 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(response) = client.get(&url).send().await else {
                    break;
                };
                let Ok(script) = response.text().await else {
                    break;
                };
                assert!(script.contains("kernel "), "{script}");
                received.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    while received.load(Ordering::SeqCst) < 60 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for machine in machines {
        machine.await.unwrap();
    }
    let received = received.load(Ordering::SeqCst);

    let db = Database::connect(&url).await.unwrap();
    let logged = app::server::entities::boot_event::Entity::find()
        .count(&db)
        .await
        .unwrap();
    let _ = db.close().await;

    assert!(received >= 60, "{received}");
    assert!(
        logged >= received as u64,
        "{received} boot scripts were received, {logged} rows are in the boot log"
    );
}
