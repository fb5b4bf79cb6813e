//! The `pxecloud` binary: start-up errors, the first admin, user commands.

use crate::helpers::fresh_database_url;
use std::{
    io::Write,
    process::{Command, Output, Stdio},
    time::Duration,
};

pub(crate) fn pxecloud() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pxecloud"));
    for var in [
        "PXECLOUD_CONFIG",
        "PXECLOUD_DATA_DIR",
        "PXECLOUD_DATABASE_URL",
        "PXECLOUD_LISTEN",
        "PXECLOUD_PUBLIC_URL",
        "PXECLOUD_LOG_FORMAT",
    ] {
        command.env_remove(var);
    }
    command.env("RUST_LOG", "info");
    command
}

fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .expect("pxecloud runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Waits up to 30 s for the server at `base` to answer `/healthz`; whether it did.
pub(crate) async fn until_healthy(client: &reqwest::Client, base: &str) -> bool {
    for _ in 0..300 {
        if client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Runs `serve` until it logs that it listens (or exits), then stops it; returns stderr.
fn serve_until_listening(database_url: &str, data_dir: &std::path::Path) -> String {
    let mut child = pxecloud()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buffer = [0u8; 4096];
        let mut seen = String::new();
        while let Ok(n) = stderr.read(&mut buffer) {
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
            if seen.contains("PXE Cloud is listening") {
                break;
            }
        }
        let _ = sender.send(seen);
    });
    let seen = receiver
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    seen
}

#[test]
fn help_lists_the_commands() {
    let output = run(pxecloud().arg("--help"));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    for command in ["serve", "migrate", "user"] {
        assert!(text.contains(command), "{text}");
    }
}

#[test]
fn a_malformed_database_url_is_refused_with_its_name() {
    let output = run(pxecloud().args(["migrate", "--database-url", "mysql://nope"]));

    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("`database_url`"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn an_unreachable_database_is_a_clear_error_not_a_panic() {
    let output = run(pxecloud().args([
        "migrate",
        "--database-url",
        "postgres://pxe:secret@127.0.0.1:1/pxecloud",
    ]));

    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("cannot connect to the database"), "{text}");
    assert!(!text.contains("secret"), "the password leaked: {text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();

    let output = run(pxecloud()
        .args(["serve", "--listen", &address])
        .arg("--data-dir")
        .arg(dir.path()));

    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains(&format!("cannot listen on {address}")),
        "{text}"
    );
}

#[test]
fn a_malformed_config_file_names_the_key() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"listen = \"not an address\"\n").unwrap();

    let output = run(pxecloud().arg("serve").arg("--config").arg(file.path()));

    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("`listen`"), "{text}");
}

#[test]
fn a_config_file_that_is_not_toml_says_where() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"[serve\nlisten = 1\n").unwrap();

    let output = run(pxecloud().arg("migrate").arg("--config").arg(file.path()));

    assert!(!output.status.success());
    assert!(stderr(&output).contains("line 1"), "{}", stderr(&output));
}

#[tokio::test]
async fn the_first_start_writes_the_admin_password_to_a_private_file_never_to_the_log() {
    use std::os::unix::fs::PermissionsExt;
    let (url, _dir) = fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("data");
    let serve = |url: &str| {
        let (url, data_dir) = (url.to_owned(), data_dir.clone());
        tokio::task::spawn_blocking(move || serve_until_listening(&url, &data_dir))
    };

    let first = serve(&url).await.unwrap();
    let file = data_dir.join(server::serve::FIRST_PASSWORD_FILE);
    let password = std::fs::read_to_string(&file)
        .expect("the password file is written")
        .trim()
        .to_owned();
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(first.contains("FIRST START"), "{first}");
    assert!(
        first.contains(&file.display().to_string()),
        "the log names the file: {first}"
    );
    assert!(
        !first.contains(&password),
        "the password is not in the log: {first}"
    );
    let second = serve(&url).await.unwrap();
    assert!(!second.contains("FIRST START"), "{second}");
    assert!(file.exists(), "kept until the password is changed");

    let db = server::database::connect(&url).await.unwrap();
    let hasher = app::server::password::PasswordHasher::new(1).unwrap();
    let user = app::server::services::accounts::authenticate(
        &db,
        &hasher,
        &Default::default(),
        app::server::services::accounts::Attempt {
            username: "admin",
            password: &password,
            client_address: None,
        },
    )
    .await
    .expect("the password in the file signs in");
    assert!(user.is_server_admin);
    assert!(user.must_change_password);

    // Changed (here from the command line): the next start deletes the stale file.
    let mut passwd = pxecloud()
        .args(["user", "passwd", "admin", "--database-url", &url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    passwd
        .stdin
        .take()
        .unwrap()
        .write_all(b"a brand new password\n")
        .unwrap();
    assert!(passwd.wait().unwrap().success());
    serve(&url).await.unwrap();
    assert!(!file.exists(), "deleted once the password was changed");
}

#[tokio::test]
async fn users_are_added_listed_and_given_new_passwords_from_stdin() {
    let (url, _dir) = fresh_database_url().await;
    let with_stdin = |args: &[&str], input: &str| {
        let mut child = pxecloud()
            .args(args)
            .args(["--database-url", &url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };

    let added = with_stdin(
        &[
            "user",
            "add",
            "Carol",
            "--email",
            "carol@example.org",
            "--admin",
        ],
        "first pass word\n",
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let duplicate = with_stdin(&["user", "add", "carol"], "another password\n");
    assert!(!duplicate.status.success());
    assert!(
        stderr(&duplicate).contains("taken"),
        "{}",
        stderr(&duplicate)
    );
    let short = with_stdin(&["user", "add", "dave"], "short\n");
    assert!(!short.status.success());
    let changed = with_stdin(&["user", "passwd", "carol"], "second pass word\n");
    assert!(changed.status.success(), "{}", stderr(&changed));
    let missing = with_stdin(&["user", "passwd", "nobody"], "whatever it is\n");
    assert!(stderr(&missing).contains("there is no user `nobody`"));
    let listed = with_stdin(&["user", "list"], "");
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(
        table.contains("carol") && table.contains("carol@example.org"),
        "{table}"
    );
    assert!(!table.contains("dave"));

    let db = server::database::connect(&url).await.unwrap();
    let hasher = app::server::password::PasswordHasher::new(1).unwrap();
    let attempt = |password: &'static str| app::server::services::accounts::Attempt {
        username: "carol",
        password,
        client_address: None,
    };
    let settings = Default::default();
    assert!(
        app::server::services::accounts::authenticate(
            &db,
            &hasher,
            &settings,
            attempt("first pass word")
        )
        .await
        .is_err()
    );
    assert!(
        app::server::services::accounts::authenticate(
            &db,
            &hasher,
            &settings,
            attempt("second pass word")
        )
        .await
        .is_ok()
    );
}

#[cfg(unix)]
#[test]
fn the_data_dir_the_database_and_exports_are_for_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let export = dir.path().join("export.toml");
    std::fs::write(&export, "old").unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;

    let migrated = run(pxecloud().args(["migrate", "--data-dir"]).arg(&data));
    let exported = run(pxecloud()
        .args(["export", "--with-password-hashes", "-o"])
        .arg(&export)
        .arg("--data-dir")
        .arg(&data));

    assert!(migrated.status.success(), "{}", stderr(&migrated));
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("pxecloud.db")), 0o600);
    assert_eq!(mode(&export), 0o600);
    assert_ne!(std::fs::read_to_string(&export).unwrap(), "old");
}

#[tokio::test]
async fn a_throttled_sign_in_leaves_a_warning_in_the_log() {
    let (url, _dir) = fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("serve.log");
    let port = crate::helpers::free_port();
    let mut child = pxecloud()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", &url])
        .arg("--data-dir")
        .arg(data.path().join("data"))
        .env("PXECLOUD_LOG_FORMAT", "text")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let up = until_healthy(&client, &base).await;

    let mut statuses = Vec::new();
    if up {
        for n in 0..6 {
            let response = client
                .post(format!("{base}/api/login"))
                .header("Accept", "application/json")
                .header("Origin", &base)
                .form(&[("username", "admin"), ("password", &format!("guess {n}"))])
                .send()
                .await
                .unwrap();
            statuses.push(response.status().as_u16());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();

    assert!(up, "the server did not start: {log}");
    assert_eq!(statuses, [422, 422, 422, 422, 422, 429]);
    let refusal = log
        .lines()
        .find(|line| line.contains("sign-in refused: too many failures"))
        .unwrap_or_else(|| panic!("no refusal in the log: {log}"));
    assert!(refusal.contains("WARN"), "{refusal}");
    assert!(refusal.contains("admin"), "the username: {refusal}");
    assert!(
        refusal.contains("127.0.0.1"),
        "the client address: {refusal}"
    );
}
